// The e2e-pooler project: the same suites, every connection through PgBouncer in transaction
// mode (see global-setup.ts), with the API's default settings.
process.env.DATABASE_URL = process.env.PGBOUNCER_DATABASE_URL;

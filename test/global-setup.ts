import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runMigrations } from '../src/database/migrate';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startBetterAuthServer, startSessionBetterAuthServer } from './support/better-auth-server';
import { startPgbouncer } from './support/pgbouncer';
import { startRedisServer } from './support/redis-server';
import { TestResources } from './support/resources';

/**
 * Starts what the e2e suites talk to, once: a real PostgreSQL (migrated once), PgBouncer in
 * transaction mode in front of it (the e2e-pooler project), a second PostgreSQL that the outage
 * suite may stop and start, a real Better Auth server (memory adapter, `jwt` plugin), a second one
 * on the PostgreSQL (`bearer` and `jwt` plugins: session tokens) and a real Redis. Workers inherit
 * the env.
 */
export default async function globalSetup(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'todo-api-e2e-'));
  chmodSync(root, 0o755); // the postgres user must be able to enter it

  const authServer = startBetterAuthServer();
  // Shared rate-limit counters: not in process.env (apps use in-process counters by default);
  // the suites that share counters pass it to their apps.
  const redis = await startRedisServer();
  // One after the other: the first start may create the postgres OS user.
  const database = await startEmbeddedPostgres({ dataDir: join(root, 'main'), persistent: false });
  const outageDatabase = await startEmbeddedPostgres({
    dataDir: join(root, 'outage'),
    persistent: false,
  });
  for (const { url } of [database, outageDatabase]) await runMigrations(url);
  const pgbouncer = await startPgbouncer(database.url, join(root, 'pgbouncer'));
  const auth = await authServer;
  const secret = randomBytes(32).toString('base64url');
  const sessionAuth = await startSessionBetterAuthServer({
    databaseUrl: database.url,
    secret,
    schema: 'better_auth',
  });

  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    DATABASE_MIGRATIONS_RUN: 'false',
    PGBOUNCER_DATABASE_URL: pgbouncer.url,
    OUTAGE_DATABASE_URL: outageDatabase.url,
    OUTAGE_DATABASE_DIR: outageDatabase.dataDir,
    OUTAGE_DATABASE_PORT: String(outageDatabase.port),
    BETTER_AUTH_URL: auth.url,
    BETTER_AUTH_SECRET: secret,
    SESSION_AUTH_URL: sessionAuth.url,
    SESSION_AUTH_CONTROL_URL: sessionAuth.controlUrl,
    SESSION_AUTH_TABLE: 'better_auth.session',
    CORS_ORIGINS: 'http://localhost:3000,https://app.example.com',
    LOG_LEVEL: 'error',
    TEST_REDIS_URL: redis.url,
  });
  (globalThis as { __E2E__?: TestResources }).__E2E__ = {
    root,
    database,
    outageDatabase,
    pgbouncer,
    auth,
    sessionAuth,
    redis,
  };
}

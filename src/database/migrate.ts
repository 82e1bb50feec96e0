import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options';
import { connectWithRetry, RetryOptions } from './wait-for-database';

/**
 * The key of the session-level advisory lock every migration run holds: "todomigr" in ASCII, a
 * fixed bigint, so every process and version of the API takes the same lock.
 */
export const MIGRATIONS_LOCK_KEY = '8390035060554295154';

/**
 * Applies pending migrations to `url` and returns their names. Any number of processes may call
 * it at once (replicas starting together, a cluster primary, the e2e setup): each first takes
 * `pg_advisory_lock(MIGRATIONS_LOCK_KEY)` on its own direct connection, held for the whole run,
 * so they run one after the other and the later ones find nothing pending. A session lock needs
 * a session: behind a transaction-mode pooler the lock and its unlock could land on different
 * server connections, so `url` must be a direct one (`DATABASE_MIGRATIONS_URL`). The first
 * connection is retried while the database is not up yet. Entities are left out: migrations do
 * not need them, so a half-edited entity cannot stop a migration run.
 */
export async function runMigrations(url: string, options: RetryOptions = {}): Promise<string[]> {
  const logger = new Logger('Migrations');
  const lock = await connectWithRetry(url, 'todo-api-migrations', options);
  try {
    const [{ locked }] = (
      await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        MIGRATIONS_LOCK_KEY,
      ])
    ).rows;
    if (!locked) {
      logger.log('Another process is running migrations: waiting for it');
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATIONS_LOCK_KEY]);
    }
    const dataSource = new DataSource({
      ...buildDataSourceOptions({ url, poolSize: 1 }),
      entities: [],
    });
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'all' });
      return applied.map((migration) => migration.name);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    // Ending the session releases the lock too; the unlock just makes it explicit and early.
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATIONS_LOCK_KEY]).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}

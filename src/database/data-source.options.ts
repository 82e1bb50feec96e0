import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataSourceOptions, MigrationInterface } from 'typeorm';
import { IdempotencyKeyEntity } from '../tasks/idempotency/idempotency-key.entity';
import { TaskTombstoneEntity } from '../tasks/sync/task-tombstone.entity';
import { TaskEntity } from '../tasks/task.entity';
import { GuardedClient, GuardedClientConfig } from './connection-guard';

type MigrationClass = new () => MigrationInterface;

export interface DatabaseSettings {
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  /** Client-side backstop per statement; the server's limits (inTransaction) end them first. */
  queryTimeoutMs?: number;
  migrationsRun?: boolean;
  /** Named statements for the repositories' declared reads (see GuardedClient). */
  preparedStatements?: boolean;
}

/** Entities are listed, not globbed: the same list works from src/, dist/ and jest. */
export const entities = [TaskEntity, IdempotencyKeyEntity, TaskTombstoneEntity];

/**
 * Every migration in ./migrations, in timestamp order. Read from the folder beside this file and
 * loaded with this module's own `require` (not TypeORM's glob loader), so it works from src/
 * (jest, ts-node), dist/ and the CLI alike, and a new migration is one new file.
 */
export const migrations = readdirSync(join(__dirname, 'migrations'))
  .filter((file) => /^\d{13}-\w+\.(ts|js)$/.test(file))
  .sort()
  .map((file) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported = require(join(__dirname, 'migrations', file)) as Record<string, MigrationClass>;
    return Object.values(exported)[0];
  });

/**
 * One definition of the connection for the app (through `TypeOrmModule`) and the TypeORM CLI
 * (through `ormconfig.ts`). The URL goes to `pg` whole, so `sslmode=require` and the other
 * libpq parameters Neon hands out are honoured.
 */
export function buildDataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    entities,
    migrations,
    migrationsTableName: 'typeorm_migrations',
    migrationsRun: settings.migrationsRun ?? false,
    synchronize: false,
    logging: false,
    extra: {
      connectionString: settings.url,
      max: settings.poolSize ?? 10,
      connectionTimeoutMillis: settings.connectTimeoutMs ?? 3000,
      query_timeout: settings.queryTimeoutMs ?? 10000,
      idleTimeoutMillis: 30000,
      keepAlive: true,
      application_name: 'todo-api',
      Client: GuardedClient,
      preparedStatements: settings.preparedStatements ?? true,
    } satisfies GuardedClientConfig & Record<string, unknown>,
  };
}

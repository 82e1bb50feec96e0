import { DataSourceOptions } from 'typeorm';
import { GuardedClient, GuardedClientConfig } from './connection-guard';
import { IdempotencyKeyEntity } from '../tasks/idempotency/idempotency-key.entity';
import { TaskTombstoneEntity } from '../tasks/sync/task-tombstone.entity';
import { TaskEntity } from '../tasks/task.entity';
import { CreateTask1764086400000 } from './migrations/1764086400000-CreateTask';
import { TaskPlanningAndSync1764172800000 } from './migrations/1764172800000-TaskPlanningAndSync';
import { ChangesFeedPaging1764950400000 } from './migrations/1764950400000-ChangesFeedPaging';

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

/** Entities and migrations are listed, not globbed: the same list works from src/, dist/ and jest. */
export const entities = [TaskEntity, IdempotencyKeyEntity, TaskTombstoneEntity];
export const migrations = [
  CreateTask1764086400000,
  TaskPlanningAndSync1764172800000,
  ChangesFeedPaging1764950400000,
];

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

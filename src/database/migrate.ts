import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options';

/**
 * Applies pending migrations to `url` on a short-lived single connection and returns their
 * names. Entities are left out: migrations do not need them, so a half-edited entity cannot stop
 * a migration run. Used by the cluster primary, the e2e global setup and the benchmarks.
 */
export async function runMigrations(url: string): Promise<string[]> {
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
}

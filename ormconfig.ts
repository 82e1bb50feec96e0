import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './src/database/data-source.options';

// The TypeORM CLI's data source (`npm run migration:*`). Reads DATABASE_URL like the app does.
try {
  process.loadEnvFile();
} catch {
  // no .env: the real environment is used as is
}
if (!process.env.DATABASE_URL) {
  throw new Error('DATABASE_URL: is required for migration commands (see .env.example)');
}

export default new DataSource(buildDataSourceOptions({ url: process.env.DATABASE_URL }));

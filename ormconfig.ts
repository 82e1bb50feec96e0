import { DataSource } from 'typeorm';
import { databaseConfig } from './src/config/configuration';
import { loadEnvFile } from './src/config/config.module';
import { buildDataSourceOptions } from './src/database/data-source.options';

// The TypeORM CLI's data source (`npm run migration:*`): the app's own loader (.env, then the
// database namespace, validated), so the CLI connects where the app does.
export default loadEnvFile().then(() => new DataSource(buildDataSourceOptions(databaseConfig())));

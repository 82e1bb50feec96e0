import { DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigModuleOptions } from '@nestjs/config';
import {
  appConfig,
  authConfig,
  databaseConfig,
  httpConfig,
  logConfig,
  namespaces,
  rateLimitConfig,
  tasksConfig,
} from './configuration';
import { validateEnv } from './env.validation';

/**
 * The one loader: `.env` in the working directory (real environment variables win), validated
 * against the schema in env.validation.ts, then derived into the typed namespaces of
 * configuration.ts. The app imports it; bootstrap, the TypeORM CLI and scripts call
 * {@link loadConfig}, which runs the same thing.
 */
export const configModuleOptions: ConfigModuleOptions = {
  isGlobal: true,
  cache: true,
  envFilePath: '.env',
  validate: (raw) => validateEnv(raw),
  load: namespaces,
};

/**
 * Builds the config module. Call it when the app is created, not at import: forRoot() reads `.env`
 * and validates as it is called, and a cluster worker loads the app before the primary hands it
 * the environment it settled.
 */
export function configModule(): Promise<DynamicModule> {
  return ConfigModule.forRoot(configModuleOptions);
}

/**
 * Reads `.env` into `process.env` (real variables win) without validating: bootstrap first fills in
 * what a zero-configuration start lacks (an embedded database, a development secret).
 */
export async function loadEnvFile(): Promise<void> {
  await ConfigModule.forRoot({ ...configModuleOptions, validate: undefined, load: [] });
}

/** Every namespace, for code that runs outside Nest's container. */
export interface Config {
  app: ReturnType<typeof appConfig>;
  http: ReturnType<typeof httpConfig>;
  database: ReturnType<typeof databaseConfig>;
  auth: ReturnType<typeof authConfig>;
  log: ReturnType<typeof logConfig>;
  rateLimit: ReturnType<typeof rateLimitConfig>;
  tasks: ReturnType<typeof tasksConfig>;
}

/**
 * The app's loader outside the app (bootstrap, scripts): reads `.env` and validates every variable
 * exactly as the config module does, and returns the namespaces. Code that needs one namespace
 * only (the TypeORM CLI) calls {@link loadEnvFile} and that namespace's factory, which validates
 * just its own variables.
 */
export async function loadConfig(): Promise<Config> {
  await ConfigModule.forRoot({ ...configModuleOptions, load: [] });
  return {
    app: appConfig(),
    http: httpConfig(),
    database: databaseConfig(),
    auth: authConfig(),
    log: logConfig(),
    rateLimit: rateLimitConfig(),
    tasks: tasksConfig(),
  };
}

import { Logger } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { validateEnv } from '../config/env.validation';
import { EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';

/**
 * A zero-configuration start, outside production only: with DATABASE_URL unset, an embedded
 * PostgreSQL under LOCAL_DATA_DIR (gitignored), whose URL is written into `process.env` before
 * the configuration is validated. Undefined when there is nothing to start.
 */
export async function startDevelopmentDatabase(
  logger: Logger,
): Promise<EmbeddedPostgres | undefined> {
  const env = validateEnv(process.env, ['NODE_ENV', 'EMBEDDED_PG_PORT', 'LOCAL_DATA_DIR']);
  if (env.NODE_ENV === 'production' || env.DATABASE_URL) return undefined;

  const dataDir = join(resolve(env.LOCAL_DATA_DIR), 'postgres');
  logger.log(`DATABASE_URL is not set: starting an embedded PostgreSQL (data in ${dataDir})`);
  const started = Date.now();
  const embedded = await startEmbeddedPostgres({
    dataDir,
    port: env.EMBEDDED_PG_PORT ?? 0,
    log: (message) => logger.debug(message),
  });
  process.env.DATABASE_URL = embedded.url;
  logger.log(
    `Embedded PostgreSQL ready on 127.0.0.1:${embedded.port} in ${Date.now() - started} ms ` +
      `(data: ${embedded.dataDir}); it stops with the API`,
  );
  return embedded;
}

import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EmbeddedPostgres, startEmbeddedPostgres } from '../database/embedded-postgres';

/** Local state of a zero-configuration start: gitignored, beside the project. */
export const LOCAL_DATA_DIR = resolve(process.env.LOCAL_DATA_DIR || '.data');
export const DEV_SECRET_FILE = join(LOCAL_DATA_DIR, 'dev-secret');

export interface LocalDefaults {
  embedded?: EmbeddedPostgres;
  /** Set when this start generated or reused the local HS256 secret. */
  devSecret: boolean;
}

/**
 * Makes a fresh clone usable with nothing configured, outside production only: an embedded
 * PostgreSQL when DATABASE_URL is unset, and a generated HS256 secret (kept in .data/, never in
 * the code) when no token source is set. It writes both into process.env before config is read.
 */
export async function applyLocalDefaults(logger: Logger): Promise<LocalDefaults> {
  const result: LocalDefaults = { devSecret: false };
  if (process.env.NODE_ENV === 'production') return result;

  if (!process.env.DATABASE_URL) {
    logger.log('DATABASE_URL is not set: starting an embedded PostgreSQL (data in .data/postgres)');
    const started = Date.now();
    result.embedded = await startEmbeddedPostgres({
      dataDir: join(LOCAL_DATA_DIR, 'postgres'),
      port: Number(process.env.EMBEDDED_PG_PORT ?? 0),
      log: (message) => logger.debug(message),
    });
    process.env.DATABASE_URL = result.embedded.url;
    logger.log(
      `Embedded PostgreSQL ready on 127.0.0.1:${result.embedded.port} in ${Date.now() - started} ms ` +
        `(data: ${result.embedded.dataDir}); it stops with the API`,
    );
  }

  const hasTokenSource =
    process.env.BETTER_AUTH_SECRET ||
    process.env.BETTER_AUTH_URL ||
    process.env.BETTER_AUTH_JWKS_URL;
  if (!hasTokenSource) {
    process.env.BETTER_AUTH_SECRET = readOrCreateDevSecret();
    result.devSecret = true;
  }
  return result;
}

export function readOrCreateDevSecret(): string {
  if (!existsSync(DEV_SECRET_FILE)) {
    mkdirSync(LOCAL_DATA_DIR, { recursive: true });
    writeFileSync(DEV_SECRET_FILE, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(DEV_SECRET_FILE, 'utf8').trim();
}

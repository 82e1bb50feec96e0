import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validateEnv } from '../config/env.validation';

/**
 * A zero-configuration start, outside production only: with no token source configured, HS256
 * tokens signed with a generated secret, kept in LOCAL_DATA_DIR/dev-secret (never in the code)
 * and written into `process.env` before the configuration is validated. True when it did so.
 */
export function useDevelopmentSecret(): boolean {
  const env = validateEnv(process.env, ['NODE_ENV', 'LOCAL_DATA_DIR']);
  // Session tokens count: a generated secret would fail the signed ones (not Better Auth's secret).
  const hasTokenSource =
    env.BETTER_AUTH_SECRET ||
    env.BETTER_AUTH_URL ||
    env.BETTER_AUTH_JWKS_URL ||
    env.BETTER_AUTH_SESSION_TOKENS;
  if (env.NODE_ENV === 'production' || hasTokenSource) return false;
  process.env.BETTER_AUTH_SECRET = readOrCreateDevelopmentSecret(env.LOCAL_DATA_DIR);
  return true;
}

/** The local HS256 secret (`npm run token` signs with it too). */
export function readOrCreateDevelopmentSecret(localDataDir: string): string {
  const file = join(resolve(localDataDir), 'dev-secret');
  if (!existsSync(file)) {
    mkdirSync(resolve(localDataDir), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

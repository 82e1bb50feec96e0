import { ConfigType, registerAs } from '@nestjs/config';
import { createSecretKey } from 'node:crypto';
import {
  EnvironmentVariable,
  EnvironmentVariables,
  LOG_LEVELS,
  validateEnv,
} from './env.validation';
import { enabledTunings, FrameworkTuning } from './framework-tuning';

type RawEnv = Record<string, string | undefined>;

/**
 * A namespace's factory: validates the variables it names (and only those: a missing token
 * source does not stop the TypeORM CLI) and derives its typed settings from them. `raw` is
 * `process.env` when Nest calls it; tests pass their own.
 */
function namespace<K extends EnvironmentVariable, T>(
  variables: readonly K[],
  derive: (env: Pick<EnvironmentVariables, K>) => T,
): (raw?: RawEnv) => T {
  return (raw = process.env) => derive(validateEnv(raw, variables));
}

/** Process-wide settings: environment, cluster size, how a stop proceeds. */
export const appConfig = registerAs(
  'app',
  namespace(
    [
      'NODE_ENV',
      'WORKERS',
      'DOCS_ENABLED',
      'SHUTDOWN_TIMEOUT_MS',
      'SHUTDOWN_DELAY_MS',
      'FRAMEWORK_TUNING_OFF',
    ],
    (env) => ({
      env: env.NODE_ENV,
      isProduction: env.NODE_ENV === 'production',
      workers: env.WORKERS,
      docsEnabled: env.DOCS_ENABLED,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      /** After SIGTERM, readiness is 503 but requests are served as usual for this long. */
      shutdownDelayMs: env.SHUTDOWN_DELAY_MS,
      /** The framework tunings in use (common/framework-internals.ts); FRAMEWORK_TUNING_OFF. */
      frameworkTuning: enabledTunings(env.FRAMEWORK_TUNING_OFF) ?? new Set<FrameworkTuning>(),
    }),
  ),
);

export const httpConfig = registerAs(
  'http',
  namespace(
    [
      'PORT',
      'HOST',
      'BODY_LIMIT',
      'CORS_ORIGINS',
      'TRUST_PROXY',
      'HTTP_KEEP_ALIVE_TIMEOUT_MS',
      'HTTP_HEADERS_TIMEOUT_MS',
    ],
    (env) => ({
      port: env.PORT,
      host: env.HOST,
      bodyLimit: env.BODY_LIMIT,
      /** `bodyLimit` in bytes: a larger Content-Length is refused before the body is read. */
      bodyLimitBytes: sizeInBytes(env.BODY_LIMIT),
      corsOrigins: env.CORS_ORIGINS.split(',')
        .map((origin) => origin.trim().replace(/\/$/, ''))
        .filter(Boolean),
      /** For Express's `trust proxy` (whose address the anonymous rate limit counts by). */
      trustProxy: trustProxy(env.TRUST_PROXY),
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      // Node's pairing: a headers timeout above the keep-alive one.
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS ?? env.HTTP_KEEP_ALIVE_TIMEOUT_MS + 1000,
    }),
  ),
);

export const databaseConfig = registerAs(
  'database',
  namespace(
    [
      'DATABASE_URL',
      'DATABASE_POOL_SIZE',
      'DATABASE_CONNECT_TIMEOUT_MS',
      'DATABASE_QUERY_TIMEOUT_MS',
      'DATABASE_STATEMENT_TIMEOUT_MS',
      'DATABASE_LOCK_TIMEOUT_MS',
      'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
      'DATABASE_MIGRATIONS_RUN',
      'DATABASE_MIGRATIONS_URL',
      'DATABASE_PREPARED_STATEMENTS',
    ],
    (env) => ({
      // Required: validateEnv refuses an environment without it.
      url: env.DATABASE_URL as string,
      poolSize: env.DATABASE_POOL_SIZE,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
      queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_MS,
      /** Enforced by PostgreSQL inside every transaction. */
      limits: {
        statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
        lockTimeoutMs: env.DATABASE_LOCK_TIMEOUT_MS,
        idleInTransactionTimeoutMs: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
      migrationsRun: env.DATABASE_MIGRATIONS_RUN,
      /** Where migrations and their lock connect: a direct URL when DATABASE_URL is a pooler. */
      migrationsUrl: env.DATABASE_MIGRATIONS_URL ?? (env.DATABASE_URL as string),
      preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
    }),
  ),
);

export const authConfig = registerAs(
  'auth',
  namespace(
    [
      'BETTER_AUTH_SECRET',
      'BETTER_AUTH_URL',
      'BETTER_AUTH_JWKS_URL',
      'JWT_ISSUER',
      'JWT_AUDIENCE',
      'HS256_ISSUER',
      'HS256_AUDIENCE',
      'JWT_CLOCK_TOLERANCE_SECONDS',
      'JWKS_COOLDOWN_SECONDS',
      'JWKS_CACHE_MAX_AGE_SECONDS',
      'JWKS_TIMEOUT_MS',
      'TOKEN_CACHE_SIZE',
      'TOKEN_CACHE_MAX_AGE_SECONDS',
      'BETTER_AUTH_SESSION_TOKENS',
      'BETTER_AUTH_SESSION_VERIFY',
      'BETTER_AUTH_SESSION_CACHE_SECONDS',
      'BETTER_AUTH_SESSION_TIMEOUT_MS',
      'BETTER_AUTH_SESSION_TABLE',
    ],
    (env) => {
      const betterAuthUrl = env.BETTER_AUTH_URL?.replace(/\/$/, '');
      const jwksUrl =
        env.BETTER_AUTH_JWKS_URL ?? (betterAuthUrl && `${betterAuthUrl}/api/auth/jwks`);
      return {
        sharedSecret: env.BETTER_AUTH_SECRET,
        /**
         * The same secret as a key, built once for every user of it (HS256 tokens, signed session
         * cookies). jsonwebtoken uses a KeyObject as it is; a string it turns into a key on every
         * call, trying createPublicKey first (an exception) and createSecretKey then.
         */
        sharedSecretKey: env.BETTER_AUTH_SECRET
          ? createSecretKey(Buffer.from(env.BETTER_AUTH_SECRET, 'utf8'))
          : undefined,
        jwks: jwksUrl
          ? {
              url: new URL(jwksUrl),
              // Better Auth's jwt plugin sets both to its base URL unless told otherwise.
              issuer: oneOrMany(env.JWT_ISSUER) ?? betterAuthUrl,
              audience: oneOrMany(env.JWT_AUDIENCE) ?? betterAuthUrl,
              cooldownMs: env.JWKS_COOLDOWN_SECONDS * 1000,
              cacheMaxAgeMs: env.JWKS_CACHE_MAX_AGE_SECONDS * 1000,
              timeoutMs: env.JWKS_TIMEOUT_MS,
            }
          : undefined,
        /**
         * iss/aud of HS256 tokens, checked only when set: each source has its own, so tokens minted
         * by a Next.js route (often with neither) and Better Auth's own can be accepted at once.
         */
        hs256: {
          issuer: oneOrMany(env.HS256_ISSUER),
          audience: oneOrMany(env.HS256_AUDIENCE),
        },
        /** Better Auth session tokens as Bearer; undefined when off. */
        sessionTokens: env.BETTER_AUTH_SESSION_TOKENS
          ? sessionTokenSettings(env, betterAuthUrl)
          : undefined,
        clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
        tokenCacheSize: env.TOKEN_CACHE_SIZE,
        tokenCacheMaxAgeMs: env.TOKEN_CACHE_MAX_AGE_SECONDS * 1000,
      };
    },
  ),
);

/** How session tokens are checked: Better Auth's get-session endpoint, or its session table. */
export type SessionTokenSettings = {
  /** A checked session is trusted this long at most (and never past its expiry). */
  cacheMs: number;
} & ({ verify: 'endpoint'; url: URL; timeoutMs: number } | { verify: 'database'; table: string });

function sessionTokenSettings(
  env: Pick<
    EnvironmentVariables,
    | 'BETTER_AUTH_SESSION_VERIFY'
    | 'BETTER_AUTH_SESSION_CACHE_SECONDS'
    | 'BETTER_AUTH_SESSION_TIMEOUT_MS'
    | 'BETTER_AUTH_SESSION_TABLE'
  >,
  betterAuthUrl: string | undefined,
): SessionTokenSettings {
  const cacheMs = env.BETTER_AUTH_SESSION_CACHE_SECONDS * 1000;
  const verify = env.BETTER_AUTH_SESSION_VERIFY ?? (betterAuthUrl ? 'endpoint' : 'database');
  // The validation refuses `endpoint` without BETTER_AUTH_URL.
  return verify === 'endpoint'
    ? {
        cacheMs,
        verify,
        // Read-only: no refresh of the session (a write), no cookie cache (a stale copy).
        url: new URL(
          `${betterAuthUrl as string}/api/auth/get-session?disableCookieCache=true&disableRefresh=true`,
        ),
        timeoutMs: env.BETTER_AUTH_SESSION_TIMEOUT_MS,
      }
    : { cacheMs, verify, table: env.BETTER_AUTH_SESSION_TABLE };
}

export const logConfig = registerAs(
  'log',
  namespace(['LOG_LEVEL', 'LOG_FORMAT', 'NODE_ENV'], (env) => ({
    level: env.LOG_LEVEL,
    json: jsonLogs(env.LOG_FORMAT, env.NODE_ENV === 'production'),
  })),
);

export const rateLimitConfig = registerAs(
  'rateLimit',
  namespace(['RATE_LIMIT_USER_PER_MINUTE', 'RATE_LIMIT_ANON_PER_MINUTE', 'REDIS_URL'], (env) => ({
    /** Requests per minute; 0 is no limit. */
    userPerMinute: env.RATE_LIMIT_USER_PER_MINUTE,
    anonPerMinute: env.RATE_LIMIT_ANON_PER_MINUTE,
    /** Counters shared by every replica; unset: counted in each process. */
    redisUrl: env.REDIS_URL,
  })),
);

export const tasksConfig = registerAs(
  'tasks',
  namespace(
    ['MAX_TASKS_PER_USER', 'DEFAULT_PAGE_SIZE', 'LIST_RESPONSE', 'DELETE_RESPONSE', 'TASK_ID_TYPE'],
    (env) => ({
      maxTasksPerUser: env.MAX_TASKS_PER_USER,
      /** A list's `limit` when the request names none. */
      defaultPageSize: env.DEFAULT_PAGE_SIZE,
      /** The shapes answers take, for frontends that cannot be changed (TaskWire). */
      wire: {
        listResponse: env.LIST_RESPONSE,
        deleteResponse: env.DELETE_RESPONSE,
        taskIdType: env.TASK_ID_TYPE,
      },
    }),
  ),
);

/** Every namespace, in the order `ConfigModule.forRoot({ load })` registers them. */
export const namespaces = [
  appConfig,
  httpConfig,
  databaseConfig,
  authConfig,
  logConfig,
  rateLimitConfig,
  tasksConfig,
];

export type AppConfig = ConfigType<typeof appConfig>;
export type HttpConfig = ConfigType<typeof httpConfig>;
export type DatabaseConfig = ConfigType<typeof databaseConfig>;
export type AuthConfig = ConfigType<typeof authConfig>;
export type LogConfig = ConfigType<typeof logConfig>;
export type RateLimitConfig = ConfigType<typeof rateLimitConfig>;
export type TasksConfig = ConfigType<typeof tasksConfig>;

/**
 * The log settings before the environment is validated (so a configuration error in production
 * is already a JSON line): the same rules as `log`, with an unknown level read as `info`.
 */
export function earlyLogConfig(raw: RawEnv = process.env): LogConfig {
  const level = LOG_LEVELS.find((known) => known === raw.LOG_LEVEL) ?? 'info';
  return { level, json: jsonLogs(raw.LOG_FORMAT, raw.NODE_ENV === 'production') };
}

/** JSON lines when asked for, or by default in production. */
function jsonLogs(format: string | undefined, isProduction: boolean): boolean {
  return format === 'json' || (isProduction && format !== 'pretty');
}

/**
 * A comma-separated list: one value as itself, several as an array (jose and jsonwebtoken take
 * either, and accept a claim that matches any of them); none as undefined.
 */
function oneOrMany(list: string | undefined): string | string[] | undefined {
  const values = (list ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);
  return values.length > 1 ? values : values[0];
}

/** `1mb`, `512kb`, `100b` or `1048576` (what BODY_LIMIT accepts), in bytes, as body-parser reads it. */
function sizeInBytes(size: string): number {
  const [, digits, unit] = /^(\d+)(b|kb|mb)?$/i.exec(size.trim()) ?? [];
  const factor = { kb: 1024, mb: 1024 * 1024 }[unit?.toLowerCase() ?? ''] ?? 1;
  return Number(digits) * factor;
}

/** TRUST_PROXY as Express reads it: `false` when unset. */
function trustProxy(value: string | undefined): boolean | number | string {
  const trimmed = value?.trim();
  if (trimmed === undefined || trimmed === 'false') return false;
  if (trimmed === 'true') return true;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

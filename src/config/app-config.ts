import { EnvironmentVariables, LOG_LEVELS, validateEnv } from './env.validation';
import { enabledTunings, FrameworkTuning } from './framework-tuning';

export interface JwksSourceConfig {
  url: URL;
  issuer?: string;
  audience?: string;
  cooldownMs: number;
  cacheMaxAgeMs: number;
  timeoutMs: number;
}

/**
 * Typed, read-only view of the validated environment. Inject this rather than reading
 * `process.env`, so every consumer reads one shape and derived values are computed in one place.
 */
export class AppConfig {
  readonly env: EnvironmentVariables['NODE_ENV'];
  readonly isProduction: boolean;
  readonly http: {
    port: number;
    host: string;
    bodyLimit: string;
    /** `bodyLimit` in bytes: a larger Content-Length is refused before the body is read. */
    bodyLimitBytes: number;
    corsOrigins: string[];
  };
  readonly database: {
    url: string;
    poolSize: number;
    connectTimeoutMs: number;
    queryTimeoutMs: number;
    /** Enforced by PostgreSQL on every connection and inside every transaction. */
    limits: {
      statementTimeoutMs: number;
      lockTimeoutMs: number;
      idleInTransactionTimeoutMs: number;
    };
    migrationsRun: boolean;
    preparedStatements: boolean;
  };
  readonly auth: {
    sharedSecret?: string;
    jwks?: JwksSourceConfig;
    /** iss/aud for HS256 tokens: checked only when set explicitly. */
    issuer?: string;
    audience?: string;
    clockToleranceSeconds: number;
    tokenCacheSize: number;
    tokenCacheMaxAgeMs: number;
  };
  readonly log: { level: EnvironmentVariables['LOG_LEVEL']; json: boolean };
  readonly docsEnabled: boolean;
  readonly shutdownTimeoutMs: number;
  readonly workers: number;
  readonly fairShare: {
    /** Requests per minute; 0 is no limit. */
    userPerMinute: number;
    anonPerMinute: number;
    maxTasksPerUser: number;
    redisUrl?: string;
    /** For Express's `trust proxy`; `false` when unset. */
    trustProxy: boolean | number | string;
  };
  /** Rolling deploys: the pre-stop delay, HTTP socket timeouts, where migrations connect. */
  readonly lifecycle: {
    shutdownDelayMs: number;
    keepAliveTimeoutMs: number;
    headersTimeoutMs: number;
    migrationsUrl: string;
  };
  /** The framework tunings in use (FRAMEWORK_TUNING_OFF turns them off). */
  readonly frameworkTuning: ReadonlySet<FrameworkTuning>;

  /**
   * The log settings before the environment is validated (so a configuration error in production
   * is already a JSON line): the same rules as `log`, with an unknown level read as `info`.
   */
  static earlyLog(env: Record<string, string | undefined> = process.env): AppConfig['log'] {
    const level = LOG_LEVELS.find((known) => known === env.LOG_LEVEL) ?? 'info';
    return { level, json: jsonLogs(env.LOG_FORMAT, env.NODE_ENV === 'production') };
  }

  /** Validates `env` (throwing a message that names each bad variable) and derives the config. */
  static fromEnv(env: Record<string, string | undefined> = process.env): AppConfig {
    return new AppConfig(validateEnv(env));
  }

  constructor(vars: EnvironmentVariables) {
    const get = <K extends keyof EnvironmentVariables>(key: K) => vars[key];

    this.env = get('NODE_ENV');
    this.isProduction = this.env === 'production';
    this.http = {
      port: get('PORT'),
      host: get('HOST'),
      bodyLimit: get('BODY_LIMIT'),
      bodyLimitBytes: sizeInBytes(get('BODY_LIMIT')),
      corsOrigins: get('CORS_ORIGINS')
        .split(',')
        .map((origin) => origin.trim().replace(/\/$/, ''))
        .filter(Boolean),
    };
    this.database = {
      url: get('DATABASE_URL') as string,
      poolSize: get('DATABASE_POOL_SIZE'),
      connectTimeoutMs: get('DATABASE_CONNECT_TIMEOUT_MS'),
      queryTimeoutMs: get('DATABASE_QUERY_TIMEOUT_MS'),
      limits: {
        statementTimeoutMs: get('DATABASE_STATEMENT_TIMEOUT_MS'),
        lockTimeoutMs: get('DATABASE_LOCK_TIMEOUT_MS'),
        idleInTransactionTimeoutMs: get('DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS'),
      },
      migrationsRun: get('DATABASE_MIGRATIONS_RUN'),
      preparedStatements: get('DATABASE_PREPARED_STATEMENTS'),
    };

    const betterAuthUrl = get('BETTER_AUTH_URL')?.replace(/\/$/, '');
    const jwksUrl =
      get('BETTER_AUTH_JWKS_URL') ?? (betterAuthUrl && `${betterAuthUrl}/api/auth/jwks`);
    const issuer = get('JWT_ISSUER');
    const audience = get('JWT_AUDIENCE');
    this.auth = {
      sharedSecret: get('BETTER_AUTH_SECRET'),
      jwks: jwksUrl
        ? {
            url: new URL(jwksUrl),
            // Better Auth's jwt plugin sets both to its base URL unless told otherwise.
            issuer: issuer ?? betterAuthUrl,
            audience: audience ?? betterAuthUrl,
            cooldownMs: get('JWKS_COOLDOWN_SECONDS') * 1000,
            cacheMaxAgeMs: get('JWKS_CACHE_MAX_AGE_SECONDS') * 1000,
            timeoutMs: get('JWKS_TIMEOUT_MS'),
          }
        : undefined,
      issuer,
      audience,
      clockToleranceSeconds: get('JWT_CLOCK_TOLERANCE_SECONDS'),
      tokenCacheSize: get('TOKEN_CACHE_SIZE'),
      tokenCacheMaxAgeMs: get('TOKEN_CACHE_MAX_AGE_SECONDS') * 1000,
    };
    this.log = {
      level: get('LOG_LEVEL'),
      json: jsonLogs(get('LOG_FORMAT'), this.isProduction),
    };
    this.docsEnabled = get('DOCS_ENABLED');
    this.shutdownTimeoutMs = get('SHUTDOWN_TIMEOUT_MS');
    this.workers = get('WORKERS');
    const trustProxy = get('TRUST_PROXY')?.trim();
    this.fairShare = {
      userPerMinute: get('RATE_LIMIT_USER_PER_MINUTE'),
      anonPerMinute: get('RATE_LIMIT_ANON_PER_MINUTE'),
      maxTasksPerUser: get('MAX_TASKS_PER_USER'),
      redisUrl: get('REDIS_URL'),
      trustProxy:
        trustProxy === undefined || trustProxy === 'false'
          ? false
          : trustProxy === 'true'
            ? true
            : /^\d+$/.test(trustProxy)
              ? Number(trustProxy)
              : trustProxy,
    };
    const keepAliveTimeoutMs = get('HTTP_KEEP_ALIVE_TIMEOUT_MS');
    this.lifecycle = {
      shutdownDelayMs: get('SHUTDOWN_DELAY_MS'),
      keepAliveTimeoutMs,
      // Node's pairing: a headers timeout above the keep-alive one.
      headersTimeoutMs: get('HTTP_HEADERS_TIMEOUT_MS') ?? keepAliveTimeoutMs + 1000,
      migrationsUrl: get('DATABASE_MIGRATIONS_URL') ?? this.database.url,
    };
    this.frameworkTuning = enabledTunings(get('FRAMEWORK_TUNING_OFF')) ?? new Set();
  }
}

/** JSON lines when asked for, or by default in production. */
function jsonLogs(format: string | undefined, isProduction: boolean): boolean {
  return format === 'json' || (isProduction && format !== 'pretty');
}

/** `1mb`, `512kb`, `100b` or `1048576` (what BODY_LIMIT accepts), in bytes, as body-parser reads it. */
function sizeInBytes(size: string): number {
  const [, digits, unit] = /^(\d+)(b|kb|mb)?$/i.exec(size.trim()) ?? [];
  const factor = { kb: 1024, mb: 1024 * 1024 }[unit?.toLowerCase() ?? ''] ?? 1;
  return Number(digits) * factor;
}

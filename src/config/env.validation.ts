import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { enabledTunings, FRAMEWORK_TUNINGS } from './framework-tuning';
import { MAX_PAGE_SIZE, MAX_WORKERS } from './constants';

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'verbose'] as const;
export const LIST_RESPONSES = ['array', 'envelope'] as const;
export const DELETE_RESPONSES = ['empty', 'json'] as const;
export const TASK_ID_TYPES = ['integer', 'string'] as const;
export const SESSION_VERIFY_MODES = ['endpoint', 'database'] as const;

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
/** A whole number within [min, max], read from its string form. */
const IntegerEnv = (min: number, max: number) =>
  applyDecorators(Transform(toInt), IsInt(), Min(min), Max(max));
/** true/false, 1/0, yes/no, on/off. */
const BooleanEnv = () => applyDecorators(Transform(toBool), IsBoolean());
/** Unset and empty (`KEY=` in a copied .env.example) mean the same: not configured. */
const OptionalEnv = () => applyDecorators(Transform(emptyToUndefined), IsOptional());
/** One value, or several separated by commas. */
const ListEnv = () =>
  applyDecorators(
    IsString(),
    Matches(/[^\s,]/, { message: 'must be a value or a comma-separated list of values' }),
  );

const urlOptions = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

/**
 * Every environment variable the API reads. Validated once at boot: a bad value stops start-up
 * with a message naming the variable. Defaults live here and in `.env.example`.
 */
export class EnvironmentVariables {
  @IsIn(NODE_ENVS)
  NODE_ENV: (typeof NODE_ENVS)[number] = 'development';

  @IntegerEnv(0, 65535)
  PORT = 8000;

  @IsString()
  HOST = '0.0.0.0';

  @OptionalEnv()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @IntegerEnv(1, 200)
  DATABASE_POOL_SIZE = 10;

  @IntegerEnv(100, 60000)
  DATABASE_CONNECT_TIMEOUT_MS = 3000;

  /**
   * Limits PostgreSQL itself enforces, so a statement or transaction that runs too long is ended
   * by the server (which rolls it back) rather than abandoned by the client. 0 turns one off.
   */
  @IntegerEnv(0, 600000)
  DATABASE_STATEMENT_TIMEOUT_MS = 5000;

  @IntegerEnv(0, 600000)
  DATABASE_LOCK_TIMEOUT_MS = 2000;

  @IntegerEnv(0, 600000)
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS = 10000;

  /** The client's backstop above the server's limits: a connection that hits it is destroyed. */
  @IntegerEnv(100, 600000)
  DATABASE_QUERY_TIMEOUT_MS = 10000;

  @BooleanEnv()
  DATABASE_MIGRATIONS_RUN = true;

  /** Named prepared statements for reads; turn off behind a pooler that cannot keep them. */
  @BooleanEnv()
  DATABASE_PREPARED_STATEMENTS = true;

  @OptionalEnv()
  @IsString()
  @MinLength(32, {
    message: 'must be at least 32 characters (generate one with `openssl rand -base64 32`)',
  })
  BETTER_AUTH_SECRET?: string;

  @OptionalEnv()
  @IsUrl(urlOptions)
  BETTER_AUTH_URL?: string;

  @OptionalEnv()
  @IsUrl(urlOptions)
  BETTER_AUTH_JWKS_URL?: string;

  /** Expected `iss` of JWKS tokens, comma-separated when several; default BETTER_AUTH_URL. */
  @OptionalEnv()
  @ListEnv()
  JWT_ISSUER?: string;

  /** Expected `aud` of JWKS tokens, comma-separated when several; default BETTER_AUTH_URL. */
  @OptionalEnv()
  @ListEnv()
  JWT_AUDIENCE?: string;

  /** Expected `iss` of HS256 tokens, comma-separated when several; unset: not checked. */
  @OptionalEnv()
  @ListEnv()
  HS256_ISSUER?: string;

  /** Expected `aud` of HS256 tokens, comma-separated when several; unset: not checked. */
  @OptionalEnv()
  @ListEnv()
  HS256_AUDIENCE?: string;

  @IntegerEnv(0, 300)
  JWT_CLOCK_TOLERANCE_SECONDS = 5;

  @IntegerEnv(1, 3600)
  JWKS_COOLDOWN_SECONDS = 5;

  /** Verified tokens remembered per process (0 turns the cache off). */
  @IntegerEnv(0, 1_000_000)
  TOKEN_CACHE_SIZE = 50_000;

  /** Longest a verified token is trusted without checking its signature again. */
  @IntegerEnv(1, 3600)
  TOKEN_CACHE_MAX_AGE_SECONDS = 60;

  @IntegerEnv(10, 86400)
  JWKS_CACHE_MAX_AGE_SECONDS = 600;

  /**
   * Better Auth session tokens as Bearer: the `better-auth.session_token` cookie value (signed,
   * `token.signature`) or the bare token (the `bearer` plugin's), checked with Better Auth.
   */
  @BooleanEnv()
  BETTER_AUTH_SESSION_TOKENS = false;

  /**
   * How a session token is checked: `endpoint` asks Better Auth's get-session at BETTER_AUTH_URL,
   * `database` reads its session table on DATABASE_URL. Default: endpoint when BETTER_AUTH_URL is
   * set, else database.
   */
  @OptionalEnv()
  @IsIn(SESSION_VERIFY_MODES)
  BETTER_AUTH_SESSION_VERIFY?: (typeof SESSION_VERIFY_MODES)[number];

  /** Longest a checked session is trusted without asking again (never past its expiry); 0: ask each time. */
  @IntegerEnv(0, 300)
  BETTER_AUTH_SESSION_CACHE_SECONDS = 10;

  /** How long get-session may take before the request answers 503 (endpoint mode). */
  @IntegerEnv(100, 30000)
  BETTER_AUTH_SESSION_TIMEOUT_MS = 2000;

  /** Better Auth's session table, `table` or `schema.table` (database mode). */
  @Matches(/^[A-Za-z_][\w$]{0,62}(\.[A-Za-z_][\w$]{0,62})?$/, {
    message: 'must be a table name or schema.table (letters, digits, _ and $)',
  })
  BETTER_AUTH_SESSION_TABLE = 'session';

  @IntegerEnv(100, 60000)
  JWKS_TIMEOUT_MS = 5000;

  @Matches(/^\s*(\*|https?:\/\/[^\s,/]+\/?)(\s*,\s*https?:\/\/[^\s,/]+\/?)*\s*$/, {
    message: 'must be a comma-separated list of origins such as http://localhost:3000',
  })
  CORS_ORIGINS = 'http://localhost:3000';

  @Matches(/^\d+(b|kb|mb)?$/i, { message: 'must be a size such as 1mb, 512kb or 1048576' })
  BODY_LIMIT = '1mb';

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  @OptionalEnv()
  @IsIn(['json', 'pretty'])
  LOG_FORMAT?: 'json' | 'pretty';

  @BooleanEnv()
  DOCS_ENABLED = true;

  @IntegerEnv(0, 120000)
  SHUTDOWN_TIMEOUT_MS = 10000;

  /** Processes sharing the port (node:cluster); 1 runs a single process. */
  @IntegerEnv(1, MAX_WORKERS)
  WORKERS = 1;

  // --- Fair share (rate limits, quota) and proxies ---

  /** Requests per minute per user (the token's `sub`); 0 turns the limit off. */
  @IntegerEnv(0, 1_000_000)
  RATE_LIMIT_USER_PER_MINUTE = 600;

  /** Requests per minute per client address without a valid token; 0 turns the limit off. */
  @IntegerEnv(0, 1_000_000)
  RATE_LIMIT_ANON_PER_MINUTE = 120;

  /** Tasks one user may hold; creating past it is 409. */
  @IntegerEnv(1, 100_000_000)
  MAX_TASKS_PER_USER = 10_000;

  /** Rate-limit counters shared by every replica; unset: counted in each process. */
  @OptionalEnv()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /**
   * Express's `trust proxy`: which hops may set X-Forwarded-For (the client address for the
   * anonymous limit). Unset: none, the socket's address is the client.
   */
  @OptionalEnv()
  @Matches(/^(true|false|\d{1,2}|[\w.:/]+(\s*,\s*[\w.:/]+)*)$/, {
    message: 'must be true, false, a hop count, or comma-separated addresses/subnets/names',
  })
  TRUST_PROXY?: string;
  // --- Rolling deploys (issue 9) ---

  /** After SIGTERM, readiness is 503 but requests are served as usual for this long (ms). */
  @IntegerEnv(0, 60000)
  SHUTDOWN_DELAY_MS = 0;

  /** Idle keep-alive sockets live this long (ms): above load balancers' 60 s idle timeouts. */
  @IntegerEnv(1000, 900000)
  HTTP_KEEP_ALIVE_TIMEOUT_MS = 65000;

  /** Longest wait for a request's headers (ms); must exceed HTTP_KEEP_ALIVE_TIMEOUT_MS. */
  @OptionalEnv()
  @IntegerEnv(1000, 901000)
  HTTP_HEADERS_TIMEOUT_MS?: number;

  /** A direct (non-pooled) URL for migrations and their advisory lock; default DATABASE_URL. */
  @OptionalEnv()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_MIGRATIONS_URL?: string;

  // --- Zero-configuration start (development only) ---

  /** Port of the embedded PostgreSQL started when DATABASE_URL is unset; 0 picks a free one. */
  @OptionalEnv()
  @IntegerEnv(0, 65535)
  EMBEDDED_PG_PORT?: number;

  /** Where a zero-configuration start keeps its database and generated secret (gitignored). */
  @IsString()
  @MinLength(1)
  LOCAL_DATA_DIR = '.data';

  // --- Compatibility with frontends that cannot be changed (tasks.mapper.ts TaskWire) ---

  /** `array`: a list answers a bare JSON array; `envelope`: `{"tasks": [...], "count", "total", …}`. */
  @IsIn(LIST_RESPONSES)
  LIST_RESPONSE: (typeof LIST_RESPONSES)[number] = 'array';

  /** `empty`: DELETE of one task answers 204; `json`: 200 with `{"id", "deleted": true}`. */
  @IsIn(DELETE_RESPONSES)
  DELETE_RESPONSE: (typeof DELETE_RESPONSES)[number] = 'empty';

  /** `integer`: task ids are JSON numbers; `string`: JSON strings ("17"). */
  @IsIn(TASK_ID_TYPES)
  TASK_ID_TYPE: (typeof TASK_ID_TYPES)[number] = 'integer';

  /** A list's `limit` when the client gives none: the maximum, so a frontend that never pages sees all. */
  @IntegerEnv(1, MAX_PAGE_SIZE)
  DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE;

  // --- Framework internals (common/framework-internals.ts) ---

  /** `all`, or the comma-separated tunings to turn off: the plain framework path is used instead. */
  @OptionalEnv()
  @IsString()
  FRAMEWORK_TUNING_OFF?: string;
}

export type EnvironmentVariable = keyof EnvironmentVariables;

/** Thrown at boot; its message names every offending variable and never echoes a value. */
export class InvalidEnvironmentError extends Error {
  override readonly name = 'InvalidEnvironmentError';
}

/** A rule across variables: the message, and the variables it concerns. */
interface Problem {
  variables: EnvironmentVariable[];
  message: string;
}

/**
 * Validates the environment and applies defaults (the `validate` of `ConfigModule.forRoot`).
 * `only` limits the check to the variables one namespace reads (the TypeORM CLI needs no token
 * source); otherwise every variable is checked and every problem is reported at once.
 */
export function validateEnv(
  raw: Record<string, unknown>,
  only?: readonly EnvironmentVariable[],
): EnvironmentVariables {
  const env = plainToInstance(EnvironmentVariables, raw, { exposeDefaultValues: true });
  const problems: Problem[] = validateSync(env, {
    skipMissingProperties: false,
    forbidUnknownValues: false,
  }).map((error) => ({
    variables: [error.property as EnvironmentVariable],
    message: `${error.property}: ${Object.values(error.constraints ?? {}).join('; ') || 'is invalid'}`,
  }));
  problems.push(...crossChecks(env));

  const concerned = only ? new Set<string>(only) : undefined;
  const reported = problems
    .filter(({ variables }) => !concerned || variables.some((name) => concerned.has(name)))
    .map(({ message }) => message);
  if (reported.length > 0) {
    throw new InvalidEnvironmentError(
      `Invalid configuration:\n  - ${reported.join('\n  - ')}\nSee .env.example for every variable.`,
    );
  }
  return env;
}

function crossChecks(env: EnvironmentVariables): Problem[] {
  const problems: Problem[] = [];
  const problem = (variables: EnvironmentVariable[], message: string) =>
    problems.push({ variables, message });

  if (env.CORS_ORIGINS.split(',').some((origin) => origin.trim() === '*')) {
    problem(
      ['CORS_ORIGINS'],
      'CORS_ORIGINS: "*" is not allowed: credentials are allowed, so list the frontend origins',
    );
  }
  // Outside production, bootstrap fills both in (embedded PostgreSQL, a generated dev secret)
  // before this runs; reaching here without them means a production or hand-made start.
  if (!env.DATABASE_URL) {
    problem(
      ['DATABASE_URL'],
      'DATABASE_URL: is required (NODE_ENV=production never starts an embedded database)',
    );
  }
  if (
    env.DATABASE_STATEMENT_TIMEOUT_MS === 0 ||
    env.DATABASE_QUERY_TIMEOUT_MS <= env.DATABASE_STATEMENT_TIMEOUT_MS
  ) {
    problem(
      ['DATABASE_QUERY_TIMEOUT_MS', 'DATABASE_STATEMENT_TIMEOUT_MS'],
      'DATABASE_QUERY_TIMEOUT_MS: must be greater than DATABASE_STATEMENT_TIMEOUT_MS (and that ' +
        "not 0): the client-side timeout is only a backstop behind the database's own",
    );
  }
  if (
    !env.BETTER_AUTH_SECRET &&
    !env.BETTER_AUTH_URL &&
    !env.BETTER_AUTH_JWKS_URL &&
    !env.BETTER_AUTH_SESSION_TOKENS
  ) {
    problem(
      [
        'BETTER_AUTH_SECRET',
        'BETTER_AUTH_URL',
        'BETTER_AUTH_JWKS_URL',
        'BETTER_AUTH_SESSION_TOKENS',
      ],
      'BETTER_AUTH_SECRET / BETTER_AUTH_URL / BETTER_AUTH_JWKS_URL / BETTER_AUTH_SESSION_TOKENS: ' +
        'set at least one token source',
    );
  }
  if (
    env.BETTER_AUTH_SESSION_TOKENS &&
    env.BETTER_AUTH_SESSION_VERIFY === 'endpoint' &&
    !env.BETTER_AUTH_URL
  ) {
    problem(
      ['BETTER_AUTH_SESSION_VERIFY', 'BETTER_AUTH_URL'],
      'BETTER_AUTH_SESSION_VERIFY: endpoint asks Better Auth at BETTER_AUTH_URL, which is not set',
    );
  }
  if (
    env.HTTP_HEADERS_TIMEOUT_MS !== undefined &&
    env.HTTP_HEADERS_TIMEOUT_MS <= env.HTTP_KEEP_ALIVE_TIMEOUT_MS
  ) {
    problem(
      ['HTTP_HEADERS_TIMEOUT_MS', 'HTTP_KEEP_ALIVE_TIMEOUT_MS'],
      'HTTP_HEADERS_TIMEOUT_MS: must be greater than HTTP_KEEP_ALIVE_TIMEOUT_MS',
    );
  }
  if (env.SHUTDOWN_DELAY_MS > 0 && env.SHUTDOWN_DELAY_MS >= env.SHUTDOWN_TIMEOUT_MS) {
    problem(
      ['SHUTDOWN_DELAY_MS', 'SHUTDOWN_TIMEOUT_MS'],
      'SHUTDOWN_DELAY_MS: must be less than SHUTDOWN_TIMEOUT_MS (which includes it)',
    );
  }
  if (enabledTunings(env.FRAMEWORK_TUNING_OFF) === undefined) {
    problem(
      ['FRAMEWORK_TUNING_OFF'],
      `FRAMEWORK_TUNING_OFF: must be all or a list of: ${FRAMEWORK_TUNINGS.join(', ')}`,
    );
  }
  return problems;
}

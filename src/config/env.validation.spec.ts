import { getMetadataStorage } from 'class-validator';
import { parse } from 'dotenv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  appConfig,
  authConfig,
  databaseConfig,
  earlyLogConfig,
  httpConfig,
  LogConfig,
  logConfig,
  namespaces,
  rateLimitConfig,
  tasksConfig,
} from './configuration';
import { EnvironmentVariables, InvalidEnvironmentError, validateEnv } from './env.validation';
import { FRAMEWORK_TUNINGS } from './framework-tuning';

const SECRET = 'x'.repeat(40);
const MINIMAL = {
  DATABASE_URL: 'postgres://app:pw@localhost:5432/app',
  BETTER_AUTH_SECRET: SECRET,
};

function validationMessage(raw: Record<string, string | undefined>): string {
  try {
    validateEnv(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEnvironmentError);
    return (error as InvalidEnvironmentError).message;
  }
  throw new Error('expected validateEnv to throw');
}

describe(validateEnv.name, () => {
  it('should accept .env.example copied as it is, once a database and a secret are filled in', () => {
    const example = parse(readFileSync(join(__dirname, '../../.env.example')));

    expect(() => validateEnv({ ...example, ...MINIMAL })).not.toThrow();
  });

  it('should document every variable of the schema in .env.example', () => {
    const example = parse(readFileSync(join(__dirname, '../../.env.example')));
    const schema = getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
      .map(({ propertyName }) => propertyName);

    expect(schema.length).toBeGreaterThan(40);
    expect([...new Set(schema)].filter((name) => !(name in example))).toEqual([]);
  });

  it('should apply the defaults the frontends expect', () => {
    const env = validateEnv(MINIMAL);

    expect(env.PORT).toBe(8000);
    expect(env.CORS_ORIGINS).toBe('http://localhost:3000');
    expect(env.BODY_LIMIT).toBe('1mb');
    expect(env.DATABASE_MIGRATIONS_RUN).toBe(true);
  });

  it('should parse numbers given as strings', () => {
    expect(validateEnv({ ...MINIMAL, PORT: '8080' }).PORT).toBe(8080);
  });

  it.each(['abc', '70000', '-1', '80.5'])('should refuse PORT=%s naming PORT', (port) => {
    expect(validationMessage({ ...MINIMAL, PORT: port })).toMatch(/^\s+- PORT: /m);
  });

  it('should refuse a short BETTER_AUTH_SECRET without echoing it', () => {
    const shortSecret = 'tooShortSecretValue123';

    const message = validationMessage({ ...MINIMAL, BETTER_AUTH_SECRET: shortSecret });

    expect(message).toMatch(/^\s+- BETTER_AUTH_SECRET: must be at least 32 characters/m);
    expect(message).not.toContain(shortSecret);
  });

  it('should refuse a missing DATABASE_URL', () => {
    expect(validationMessage({ BETTER_AUTH_SECRET: SECRET })).toMatch(
      /^\s+- DATABASE_URL: is required/m,
    );
  });

  it('should refuse a DATABASE_URL that is not a postgres URL', () => {
    expect(validationMessage({ ...MINIMAL, DATABASE_URL: 'mysql://localhost/app' })).toMatch(
      /^\s+- DATABASE_URL: /m,
    );
  });

  it('should refuse a configuration without any token source', () => {
    expect(validationMessage({ DATABASE_URL: MINIMAL.DATABASE_URL })).toContain(
      'set at least one token source',
    );
  });

  it.each([
    ['a shared secret', { BETTER_AUTH_SECRET: SECRET }],
    ['a Better Auth URL', { BETTER_AUTH_URL: 'http://localhost:3000' }],
    ['a JWKS URL', { BETTER_AUTH_JWKS_URL: 'https://auth.example.com/api/auth/jwks' }],
  ])('should accept %s as the only token source', (_label, source) => {
    expect(() => validateEnv({ DATABASE_URL: MINIMAL.DATABASE_URL, ...source })).not.toThrow();
  });

  it.each(['*', 'http://localhost:3000,*', ' * '])('should refuse CORS_ORIGINS=%j', (origins) => {
    expect(validationMessage({ ...MINIMAL, CORS_ORIGINS: origins })).toMatch(
      /^\s+- CORS_ORIGINS: "\*" is not allowed/m,
    );
  });

  it('should accept a comma-separated list of origins', () => {
    const origins = 'http://localhost:3000, https://app.example.com';

    expect(validateEnv({ ...MINIMAL, CORS_ORIGINS: origins }).CORS_ORIGINS).toBe(origins);
  });

  it.each([
    ['false', false],
    ['0', false],
    ['no', false],
    ['OFF', false],
    ['true', true],
    ['1', true],
    ['Yes', true],
  ])('should parse DATABASE_MIGRATIONS_RUN=%s as %s', (raw, expected) => {
    expect(validateEnv({ ...MINIMAL, DATABASE_MIGRATIONS_RUN: raw }).DATABASE_MIGRATIONS_RUN).toBe(
      expected,
    );
  });

  it('should refuse a boolean it cannot parse', () => {
    expect(validationMessage({ ...MINIMAL, DOCS_ENABLED: 'maybe' })).toMatch(
      /^\s+- DOCS_ENABLED: /m,
    );
  });

  it('should treat empty optional variables as unset', () => {
    const env = validateEnv({ ...MINIMAL, BETTER_AUTH_URL: '', JWT_ISSUER: '  ' });

    expect(env.BETTER_AUTH_URL).toBeUndefined();
    expect(env.JWT_ISSUER).toBeUndefined();
  });

  it('should name every offending variable at once', () => {
    const message = validationMessage({ PORT: 'x', CORS_ORIGINS: '*' });

    expect(message).toMatch(/- PORT: /);
    expect(message).toMatch(/- CORS_ORIGINS: /);
    expect(message).toMatch(/- DATABASE_URL: /);
  });
});

describe('configuration namespaces', () => {
  it('should derive the JWKS URL, issuer and audience from BETTER_AUTH_URL', () => {
    const auth = authConfig({ ...MINIMAL, BETTER_AUTH_URL: 'http://x:3000' });

    expect(auth.jwks?.url.href).toBe('http://x:3000/api/auth/jwks');
    expect(auth.jwks?.issuer).toBe('http://x:3000');
    expect(auth.jwks?.audience).toBe('http://x:3000');
  });

  it('should ignore a trailing slash on BETTER_AUTH_URL', () => {
    const auth = authConfig({ ...MINIMAL, BETTER_AUTH_URL: 'http://x:3000/' });

    expect(auth.jwks?.url.href).toBe('http://x:3000/api/auth/jwks');
    expect(auth.jwks?.issuer).toBe('http://x:3000');
  });

  it('should let JWT_ISSUER and JWT_AUDIENCE override the derived values, for JWKS tokens only', () => {
    const auth = authConfig({
      ...MINIMAL,
      BETTER_AUTH_URL: 'http://x:3000',
      JWT_ISSUER: 'https://issuer.example.com',
      JWT_AUDIENCE: 'todo-api',
    });

    expect(auth.jwks?.issuer).toBe('https://issuer.example.com');
    expect(auth.jwks?.audience).toBe('todo-api');
    expect(auth.hs256).toEqual({ issuer: undefined, audience: undefined });
  });

  it('should read comma-separated issuer and audience lists for each source', () => {
    const auth = authConfig({
      ...MINIMAL,
      BETTER_AUTH_URL: 'http://x:3000',
      JWT_AUDIENCE: 'http://x:3000, todo-api ,',
      HS256_ISSUER: 'https://app.example.com',
      HS256_AUDIENCE: 'todo-api,https://api.example.com',
    });

    expect(auth.jwks?.issuer).toBe('http://x:3000');
    expect(auth.jwks?.audience).toEqual(['http://x:3000', 'todo-api']);
    expect(auth.hs256).toEqual({
      issuer: 'https://app.example.com',
      audience: ['todo-api', 'https://api.example.com'],
    });
  });

  it.each(['JWT_AUDIENCE', 'HS256_ISSUER'])('should refuse %s naming no value', (name) => {
    expect(validationMessage({ ...MINIMAL, [name]: ' , ' })).toMatch(
      new RegExp(`^\\s+- ${name}: must be a value or a comma-separated list`, 'm'),
    );
  });

  it('should prefer BETTER_AUTH_JWKS_URL over the derived JWKS URL', () => {
    const auth = authConfig({
      ...MINIMAL,
      BETTER_AUTH_URL: 'http://x:3000',
      BETTER_AUTH_JWKS_URL: 'https://keys.example.com/jwks.json',
    });

    expect(auth.jwks?.url.href).toBe('https://keys.example.com/jwks.json');
    expect(auth.jwks?.issuer).toBe('http://x:3000');
  });

  it('should configure no JWKS source and no HS256 iss/aud check with only a shared secret', () => {
    const auth = authConfig(MINIMAL);

    expect(auth.sharedSecret).toBe(SECRET);
    expect(auth.jwks).toBeUndefined();
    expect(auth.hs256).toEqual({ issuer: undefined, audience: undefined });
  });

  it('should convert the JWKS timings to milliseconds', () => {
    const auth = authConfig({
      ...MINIMAL,
      BETTER_AUTH_URL: 'http://x:3000',
      JWKS_COOLDOWN_SECONDS: '7',
      JWKS_CACHE_MAX_AGE_SECONDS: '60',
    });

    expect(auth.jwks).toMatchObject({ cooldownMs: 7000, cacheMaxAgeMs: 60_000, timeoutMs: 5000 });
  });

  describe('Better Auth session tokens', () => {
    it('should be off by default', () => {
      expect(authConfig(MINIMAL).sessionTokens).toBeUndefined();
    });

    it("should ask Better Auth's get-session, read-only, when BETTER_AUTH_URL is set", () => {
      const auth = authConfig({
        ...MINIMAL,
        BETTER_AUTH_URL: 'http://x:3000/',
        BETTER_AUTH_SESSION_TOKENS: 'true',
      });

      expect(auth.sessionTokens).toEqual({
        verify: 'endpoint',
        url: new URL(
          'http://x:3000/api/auth/get-session?disableCookieCache=true&disableRefresh=true',
        ),
        timeoutMs: 2000,
        cacheMs: 10_000,
      });
    });

    it('should read the session table when told to, or when there is no BETTER_AUTH_URL', () => {
      const told = authConfig({
        ...MINIMAL,
        BETTER_AUTH_URL: 'http://x:3000',
        BETTER_AUTH_SESSION_TOKENS: 'true',
        BETTER_AUTH_SESSION_VERIFY: 'database',
        BETTER_AUTH_SESSION_TABLE: 'auth.sessions',
        BETTER_AUTH_SESSION_CACHE_SECONDS: '0',
      });
      const noUrl = authConfig({ ...MINIMAL, BETTER_AUTH_SESSION_TOKENS: 'yes' });

      expect(told.sessionTokens).toEqual({
        verify: 'database',
        table: 'auth.sessions',
        cacheMs: 0,
      });
      expect(noUrl.sessionTokens).toEqual({
        verify: 'database',
        table: 'session',
        cacheMs: 10_000,
      });
    });

    it('should refuse endpoint checks without BETTER_AUTH_URL', () => {
      expect(
        validationMessage({
          ...MINIMAL,
          BETTER_AUTH_SESSION_TOKENS: 'true',
          BETTER_AUTH_SESSION_VERIFY: 'endpoint',
        }),
      ).toMatch(/^\s+- BETTER_AUTH_SESSION_VERIFY: endpoint asks Better Auth at BETTER_AUTH_URL/m);
    });

    it.each([
      ['BETTER_AUTH_SESSION_VERIFY', 'cookie'],
      ['BETTER_AUTH_SESSION_TABLE', 'session; DROP TABLE task'],
      ['BETTER_AUTH_SESSION_TABLE', 'a.b.c'],
      ['BETTER_AUTH_SESSION_TABLE', '"session"'],
      ['BETTER_AUTH_SESSION_CACHE_SECONDS', '301'],
      ['BETTER_AUTH_SESSION_TIMEOUT_MS', '50'],
    ])('should refuse %s=%j naming it', (name, value) => {
      expect(validationMessage({ ...MINIMAL, [name]: value })).toMatch(
        new RegExp(`^\\s+- ${name}: `, 'm'),
      );
    });

    it('should count as a token source on their own', () => {
      const env = { DATABASE_URL: MINIMAL.DATABASE_URL, BETTER_AUTH_SESSION_TOKENS: 'true' };

      expect(() => validateEnv(env)).not.toThrow();
      expect(validationMessage({ DATABASE_URL: MINIMAL.DATABASE_URL })).toMatch(
        /set at least one token source/,
      );
    });
  });

  it('should split CORS_ORIGINS into trimmed origins', () => {
    const http = httpConfig({
      ...MINIMAL,
      CORS_ORIGINS: 'http://localhost:3000 , https://app.example.com',
    });

    expect(http.corsOrigins).toEqual(['http://localhost:3000', 'https://app.example.com']);
  });

  it.each<[Record<string, string>, LogConfig]>([
    [{}, { level: 'info', json: false }],
    [{ NODE_ENV: 'production' }, { level: 'info', json: true }],
    [
      { NODE_ENV: 'production', LOG_FORMAT: 'pretty' },
      { level: 'info', json: false },
    ],
    [
      { LOG_FORMAT: 'json', LOG_LEVEL: 'warn' },
      { level: 'warn', json: true },
    ],
  ])('should read the same log settings before and after validation: %j', (env, expected) => {
    expect(earlyLogConfig(env)).toEqual(expected);
    const production = env.NODE_ENV === 'production' ? { DATABASE_URL: 'postgres://db/x' } : {};
    expect(logConfig({ ...MINIMAL, ...production, ...env })).toEqual(expected);
  });

  it('should read an unknown LOG_LEVEL as info before validation', () => {
    expect(earlyLogConfig({ LOG_LEVEL: 'loud' }).level).toBe('info');
  });

  it('should validate only its own variables, so the TypeORM CLI needs no token source', () => {
    const database = databaseConfig({ DATABASE_URL: MINIMAL.DATABASE_URL });

    expect(database.url).toBe(MINIMAL.DATABASE_URL);
    expect(() => authConfig({ DATABASE_URL: MINIMAL.DATABASE_URL })).toThrow(
      /BETTER_AUTH_SECRET \/ BETTER_AUTH_URL \/ BETTER_AUTH_JWKS_URL \/ BETTER_AUTH_SESSION_TOKENS: set at least one/,
    );
    expect(() => databaseConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE: /);
  });

  it('should be registered under the names services inject', () => {
    expect(namespaces.map((factory) => factory.KEY)).toEqual([
      'CONFIGURATION(app)',
      'CONFIGURATION(http)',
      'CONFIGURATION(database)',
      'CONFIGURATION(auth)',
      'CONFIGURATION(log)',
      'CONFIGURATION(rateLimit)',
      'CONFIGURATION(tasks)',
    ]);
  });
});

describe('fair-share settings', () => {
  it('should default to 600 and 120 requests a minute and 10,000 tasks, in-process counters', () => {
    expect(rateLimitConfig(MINIMAL)).toEqual({
      userPerMinute: 600,
      anonPerMinute: 120,
      redisUrl: undefined,
    });
    expect(tasksConfig(MINIMAL)).toMatchObject({ maxTasksPerUser: 10_000 });
    expect(httpConfig(MINIMAL)).toMatchObject({ trustProxy: false, bodyLimitBytes: 1024 * 1024 });
  });

  it.each<[string | undefined, boolean | number | string]>([
    ['true', true],
    ['false', false],
    ['1', 1],
    ['loopback', 'loopback'],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8, 127.0.0.1'],
  ])('should pass TRUST_PROXY=%s to Express as %p', (value, expected) => {
    expect(httpConfig({ ...MINIMAL, TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each([
    ['RATE_LIMIT_USER_PER_MINUTE', '-1'],
    ['RATE_LIMIT_ANON_PER_MINUTE', 'many'],
    ['MAX_TASKS_PER_USER', '0'],
    ['REDIS_URL', 'http://cache:6379'],
    ['TRUST_PROXY', 'every proxy'],
  ])('should refuse %s=%s, naming it', (name, value) => {
    expect(validationMessage({ ...MINIMAL, [name]: value })).toContain(`${name}:`);
  });

  it.each([
    ['512kb', 512 * 1024],
    ['100b', 100],
    ['2048', 2048],
    ['2MB', 2 * 1024 * 1024],
  ])('should read BODY_LIMIT=%s as %d bytes', (limit, bytes) => {
    expect(httpConfig({ ...MINIMAL, BODY_LIMIT: limit }).bodyLimitBytes).toBe(bytes);
  });
});

describe('rolling-deploy settings', () => {
  it('should default above load balancers idle timeouts, headers above keep-alive', () => {
    expect(appConfig(MINIMAL).shutdownDelayMs).toBe(0);
    expect(httpConfig(MINIMAL)).toMatchObject({
      keepAliveTimeoutMs: 65000,
      headersTimeoutMs: 66000,
    });
    expect(databaseConfig(MINIMAL).migrationsUrl).toBe(MINIMAL.DATABASE_URL);
  });

  it('should follow HTTP_KEEP_ALIVE_TIMEOUT_MS with the headers timeout unless it is set', () => {
    const http = httpConfig({ ...MINIMAL, HTTP_KEEP_ALIVE_TIMEOUT_MS: '620000' });

    expect(http.headersTimeoutMs).toBe(621000);
  });

  it.each(['65000', '30000'])(
    'should refuse HTTP_HEADERS_TIMEOUT_MS=%s with the keep-alive timeout at 65000',
    (headers) => {
      expect(
        validationMessage({
          ...MINIMAL,
          HTTP_HEADERS_TIMEOUT_MS: headers,
          HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
        }),
      ).toMatch(/^\s+- HTTP_HEADERS_TIMEOUT_MS: must be greater than HTTP_KEEP_ALIVE_TIMEOUT_MS/m);
    },
  );

  it('should refuse a SHUTDOWN_DELAY_MS that leaves no time to drain', () => {
    expect(
      validationMessage({ ...MINIMAL, SHUTDOWN_DELAY_MS: '10000', SHUTDOWN_TIMEOUT_MS: '10000' }),
    ).toMatch(/^\s+- SHUTDOWN_DELAY_MS: must be less than SHUTDOWN_TIMEOUT_MS/m);
  });

  it('should take DATABASE_MIGRATIONS_URL for migrations only', () => {
    const direct = 'postgres://app:pw@direct.example:5432/app';
    const database = databaseConfig({ ...MINIMAL, DATABASE_MIGRATIONS_URL: direct });

    expect(database.migrationsUrl).toBe(direct);
    expect(database.url).toBe(MINIMAL.DATABASE_URL);
    expect(validationMessage({ ...MINIMAL, DATABASE_MIGRATIONS_URL: 'mysql://x/y' })).toMatch(
      /^\s+- DATABASE_MIGRATIONS_URL: /m,
    );
  });
});

describe('framework tuning', () => {
  const tunings = (off?: string) =>
    [...appConfig({ ...MINIMAL, FRAMEWORK_TUNING_OFF: off }).frameworkTuning].sort();

  it('should turn every tuning on by default, none with all, and only the named ones off', () => {
    expect(tunings()).toEqual([...FRAMEWORK_TUNINGS].sort());
    expect(tunings('')).toEqual([...FRAMEWORK_TUNINGS].sort());
    expect(tunings('all')).toEqual([]);
    expect(tunings(' express-reply , v8-no-pretenuring')).toEqual(['express-prototypes']);
  });

  it('should refuse an unknown name, listing the known ones', () => {
    const message = validationMessage({ ...MINIMAL, FRAMEWORK_TUNING_OFF: 'express-reply,turbo' });

    expect(message).toContain('FRAMEWORK_TUNING_OFF: must be all or a list of: express-prototypes');
  });
});

describe('compatibility settings', () => {
  it('should default to the contract: bare arrays, 204 on DELETE, integer ids, pages of 1000', () => {
    expect(tasksConfig(MINIMAL)).toEqual({
      maxTasksPerUser: 10_000,
      defaultPageSize: 1000,
      wire: { listResponse: 'array', deleteResponse: 'empty', taskIdType: 'integer' },
    });
  });

  it('should read each setting', () => {
    const tasks = tasksConfig({
      ...MINIMAL,
      LIST_RESPONSE: 'envelope',
      DELETE_RESPONSE: 'json',
      TASK_ID_TYPE: 'string',
      DEFAULT_PAGE_SIZE: '50',
    });

    expect(tasks).toMatchObject({
      defaultPageSize: 50,
      wire: { listResponse: 'envelope', deleteResponse: 'json', taskIdType: 'string' },
    });
  });

  it.each([
    [
      'LIST_RESPONSE',
      'object',
      /LIST_RESPONSE must be one of the following values: array, envelope/,
    ],
    ['LIST_RESPONSE', '', /LIST_RESPONSE must be one of/],
    ['DELETE_RESPONSE', 'body', /DELETE_RESPONSE must be one of the following values: empty, json/],
    ['TASK_ID_TYPE', 'uuid', /TASK_ID_TYPE must be one of the following values: integer, string/],
    ['DEFAULT_PAGE_SIZE', '0', /DEFAULT_PAGE_SIZE must not be less than 1/],
    ['DEFAULT_PAGE_SIZE', '1001', /DEFAULT_PAGE_SIZE must not be greater than 1000/],
    ['DEFAULT_PAGE_SIZE', 'all', /DEFAULT_PAGE_SIZE must be an integer/],
  ])('should refuse %s=%p, naming it', (name, value, message) => {
    const text = validationMessage({ ...MINIMAL, [name]: value });

    expect(text).toMatch(new RegExp(`^\\s+- ${name}: `, 'm'));
    expect(text).toMatch(message);
  });
});

import { getMetadataStorage } from 'class-validator';
import { parse } from 'dotenv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentVariables, InvalidEnvironmentError, validateEnv } from './env.validation';

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

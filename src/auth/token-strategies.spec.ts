import { ExecutionContext, Logger, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  base64url,
  KeyLike,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  JWK,
  JWTHeaderParameters,
  JWTPayload,
  SignJWT,
} from 'jose';
import { createHmac, KeyObject } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import passport from 'passport';
import { Strategy as PassportJwt } from 'passport-jwt';
import { refusalReasonOf } from '../common/logging';
import { authConfig, AuthConfig } from '../config/configuration';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import { AuthUser } from './auth-user';
import { JwksStrategy } from './jwks.strategy';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import {
  SessionCheckUnavailableError,
  SessionLookup,
  SessionRecord,
  SessionToken,
} from './session-token';
import { SessionTokenStrategy } from './session-token.strategy';
import { SessionVerifier } from './session-verifier';
import { TokenGate } from './token-gate';
import { isCanonicalCompactJws } from './token-rules';
import { TOKEN_STRATEGIES, TOKEN_STRATEGY_NAMES } from './token-strategies';

const SECRET = 'test-secret-test-secret-test-secret-0123';
const OTHER_SECRET = 'another-secret-another-secret-another-99';
const CLOCK_TOLERANCE_SECONDS = 30;
const USER_ID = 'R35waxC4PhKloC2BQsg6TBBf0R0VwZjt';

type AsymmetricAlg = 'EdDSA' | 'ES256' | 'RS256';

interface PublishedKey {
  alg: AsymmetricAlg;
  kid: string;
  privateKey: KeyLike;
  publicKey: KeyLike;
  publicJwk: JWK;
}

async function publishedKey(alg: AsymmetricAlg): Promise<PublishedKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-key`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A JWT builder with the claims every accepted token carries; `undefined` removes a claim. */
function claims(overrides: JWTPayload = {}): JWTPayload {
  const payload: JWTPayload = { sub: USER_ID, iat: nowSeconds(), exp: nowSeconds() + 900 };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete payload[name];
    else payload[name] = value;
  }
  return payload;
}

function signHs256(
  payload: JWTPayload = claims(),
  secret: string | Uint8Array = SECRET,
  header: Partial<JWTHeaderParameters> = {},
  crit?: Record<string, boolean>,
): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'JWT', ...header, alg: 'HS256' })
    .sign(key, { crit });
}

/** Encodes a JWT by hand, for headers no signing library would produce. */
function unsignedToken(header: object, payload: JWTPayload): string {
  const encode = (part: object) => base64url.encode(JSON.stringify(part));
  return `${encode(header)}.${encode(payload)}.`;
}

function configFor(env: Record<string, string>): AuthConfig {
  return authConfig({ JWT_CLOCK_TOLERANCE_SECONDS: String(CLOCK_TOLERANCE_SECONDS), ...env });
}

/** One deployment's token strategies, run through passport's own flow as the global guard runs them. */
class Authenticator {
  readonly gate: TokenGate;
  readonly strategies: (JwtStrategy | JwksStrategy | SessionTokenStrategy)[];
  private readonly passport = new passport.Passport();
  private readonly guard = new JwtAuthGuard(new Reflector(), {} as RateLimitGuard);

  /** `sessions`: where session tokens are looked up (a mock of ours), when they are on. */
  constructor(
    readonly config: AuthConfig,
    sessions: SessionLookup = { find: () => Promise.reject(new Error('not asked')) },
  ) {
    this.gate = new TokenGate(config);
    this.strategies = [
      new JwtStrategy(config, this.gate),
      new JwksStrategy(config, this.gate),
      new SessionTokenStrategy(config, this.gate, new SessionVerifier(config, sessions)),
    ];
    expect(this.strategies.map((strategy) => strategy.constructor)).toEqual(TOKEN_STRATEGIES);
    for (const strategy of this.strategies) {
      // A passport of its own: the strategies also register with the global one as they are
      // built, and each deployment here has different settings.
      const { strategyName } = strategy.constructor as unknown as { strategyName: string };
      this.passport.use(strategyName, strategy);
    }
  }

  /** The reason the guard named for the request's log line, after a refusal. */
  lastReason?: string;

  /** The user, or the guard's refusal (an UnauthorizedException with the client's message). */
  verify(token: string, authorization = `Bearer ${token}`): Promise<AuthUser> {
    const response = {};
    const context = {
      switchToHttp: () => ({ getResponse: () => response }),
    } as unknown as ExecutionContext;
    this.lastReason = undefined;
    return new Promise<AuthUser>((resolve, reject) => {
      const request = { headers: { authorization } };
      this.passport.authenticate(
        TOKEN_STRATEGY_NAMES,
        { session: false },
        (error: unknown, user: AuthUser | false, info: unknown) => {
          try {
            resolve(this.guard.handleRequest(error, user, info, context));
          } catch (refusal: unknown) {
            this.lastReason = refusalReasonOf(response);
            reject(refusal instanceof Error ? refusal : new Error(String(refusal)));
          }
        },
      )(request, {}, reject);
    });
  }
}

describe('Token strategies', () => {
  let server: Server;
  let baseUrl: string;
  let jwksRequests: number;
  let keys: Record<AsymmetricAlg, PublishedKey>;
  let logSpies: jest.SpyInstance[];

  /** Verifiers for each configuration a deployment can have. */
  let secretOnly: Authenticator;
  let jwksOnly: Authenticator;
  let both: Authenticator;

  function verifierFor(env: Record<string, string>): Authenticator {
    return new Authenticator(configFor(env));
  }

  function signAsymmetric(
    key: PublishedKey,
    payload: JWTPayload = claims({ iss: baseUrl, aud: baseUrl }),
    header: Partial<JWTHeaderParameters> = {},
  ): Promise<string> {
    return new SignJWT(payload)
      .setProtectedHeader({ typ: 'JWT', kid: key.kid, ...header, alg: key.alg })
      .sign(key.privateKey);
  }

  async function expectRefused(
    verifier: Authenticator,
    token: string,
    message?: string,
    reason?: string,
  ): Promise<void> {
    const error: unknown = await verifier.verify(token).then(
      (user) => new Error(`accepted as ${JSON.stringify(user)}`),
      (refusal: unknown) => refusal,
    );
    expect(error).toBeInstanceOf(UnauthorizedException);
    if (message !== undefined) expect((error as Error).message).toBe(message);
    if (reason !== undefined) expect(verifier.lastReason).toBe(reason);
    // The message reaches the client: it must never echo the token.
    const payloadPart = token.split('.')[1];
    if (payloadPart) expect((error as Error).message).not.toContain(payloadPart);
  }

  beforeAll(async () => {
    logSpies = [
      jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined),
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined),
    ];
    const [eddsa, es256, rs256] = await Promise.all(
      (['EdDSA', 'ES256', 'RS256'] as const).map(publishedKey),
    );
    keys = { EdDSA: eddsa, ES256: es256, RS256: rs256 };
    const document = JSON.stringify({ keys: [eddsa.publicJwk, es256.publicJwk, rs256.publicJwk] });

    jwksRequests = 0;
    server = createServer((request, response) => {
      if (request.url !== '/api/auth/jwks') {
        response.writeHead(404).end();
        return;
      }
      jwksRequests++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(document);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    secretOnly = verifierFor({ BETTER_AUTH_SECRET: SECRET });
    jwksOnly = verifierFor({ BETTER_AUTH_URL: baseUrl });
    both = verifierFor({ BETTER_AUTH_URL: baseUrl, BETTER_AUTH_SECRET: OTHER_SECRET });
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    logSpies.forEach((spy) => spy.mockRestore());
  });

  describe('HS256 tokens signed with BETTER_AUTH_SECRET', () => {
    it('should accept a token signed with the secret and return its subject', async () => {
      await expect(secretOnly.verify(await signHs256())).resolves.toEqual({ id: USER_ID });
    });

    it('should accept a token without iss or aud when neither is configured', async () => {
      const token = await signHs256(claims({ iss: undefined, aud: undefined, iat: undefined }));

      await expect(secretOnly.verify(token)).resolves.toEqual({ id: USER_ID });
    });

    it('should refuse a token signed with another secret', async () => {
      await expectRefused(secretOnly, await signHs256(claims(), OTHER_SECRET));
    });

    it('should refuse a token with a tampered payload', async () => {
      const [header, , signature] = (await signHs256()).split('.');
      const forged = base64url.encode(JSON.stringify(claims({ sub: 'someone-else' })));

      await expectRefused(secretOnly, `${header}.${forged}.${signature}`);
    });

    it('should refuse a token without exp', async () => {
      await expectRefused(secretOnly, await signHs256(claims({ exp: undefined })));
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['blank', '   '],
    ])('should refuse a token whose sub is %s', async (_case, sub) => {
      await expectRefused(secretOnly, await signHs256(claims({ sub })));
    });

    it('should accept a token expired within the clock tolerance', async () => {
      const token = await signHs256(claims({ exp: nowSeconds() - CLOCK_TOLERANCE_SECONDS / 3 }));

      await expect(secretOnly.verify(token)).resolves.toEqual({ id: USER_ID });
    });

    it('should refuse a token expired beyond the clock tolerance', async () => {
      const token = await signHs256(claims({ exp: nowSeconds() - CLOCK_TOLERANCE_SECONDS * 2 }));

      await expectRefused(secretOnly, token);
    });

    it('should refuse a token not valid before a time beyond the clock tolerance', async () => {
      const token = await signHs256(claims({ nbf: nowSeconds() + CLOCK_TOLERANCE_SECONDS * 2 }));

      await expectRefused(secretOnly, token);
    });

    it('should check iss and aud once HS256_ISSUER and HS256_AUDIENCE are set', async () => {
      const verifier = verifierFor({
        BETTER_AUTH_SECRET: SECRET,
        HS256_ISSUER: 'https://app.example.com',
        HS256_AUDIENCE: 'todo-api',
      });
      const valid = { iss: 'https://app.example.com', aud: 'todo-api' };

      await expect(verifier.verify(await signHs256(claims(valid)))).resolves.toEqual({
        id: USER_ID,
      });
      await expectRefused(verifier, await signHs256(claims({ ...valid, iss: 'https://evil' })));
      await expectRefused(verifier, await signHs256(claims({ ...valid, aud: 'other-api' })));
      await expectRefused(verifier, await signHs256(claims({ ...valid, iss: undefined })));
      await expectRefused(verifier, await signHs256(claims({ ...valid, aud: undefined })));
    });

    it('should accept any audience and issuer of an HS256_AUDIENCE / HS256_ISSUER list', async () => {
      const verifier = verifierFor({
        BETTER_AUTH_SECRET: SECRET,
        HS256_ISSUER: 'https://a.example.com, https://b.example.com',
        HS256_AUDIENCE: 'todo-api,https://api.example.com',
      });

      const styles: [string, string | string[]][] = [
        ['https://a.example.com', 'todo-api'],
        ['https://b.example.com', 'https://api.example.com'],
        ['https://a.example.com', ['something-else', 'todo-api']],
      ];
      for (const [iss, aud] of styles) {
        await expect(verifier.verify(await signHs256(claims({ iss, aud })))).resolves.toEqual({
          id: USER_ID,
        });
      }
      await expectRefused(
        verifier,
        await signHs256(claims({ iss: 'https://c.example.com', aud: 'todo-api' })),
        'Token claim "iss" is invalid',
      );
    });

    it('should not bind HS256 tokens to JWT_ISSUER and JWT_AUDIENCE (the JWKS source only)', async () => {
      const verifier = verifierFor({
        BETTER_AUTH_SECRET: SECRET,
        JWT_ISSUER: 'https://app.example.com',
        JWT_AUDIENCE: 'todo-api',
      });

      for (const extra of [{}, { iss: 'https://elsewhere', aud: 'custom-audience' }]) {
        await expect(verifier.verify(await signHs256(claims(extra)))).resolves.toEqual({
          id: USER_ID,
        });
      }
    });

    it('should refuse HS256 when only a JWKS is configured', async () => {
      await expectRefused(jwksOnly, await signHs256());
    });
  });

  describe('tokens that must never be accepted', () => {
    it.each(['none', 'None', 'NONE'])(
      'should refuse alg %s under every configuration',
      async (alg) => {
        const token = unsignedToken({ alg, typ: 'JWT' }, claims({ iss: baseUrl, aud: baseUrl }));

        for (const verifier of [secretOnly, jwksOnly, both]) {
          await expectRefused(verifier, token);
        }
      },
    );

    it.each([
      ['jku', () => ({ jku: `${baseUrl}/api/auth/jwks` })],
      ['x5u', () => ({ x5u: 'https://attacker.example/cert.pem' })],
      ['jwk', () => ({ jwk: keys.EdDSA.publicJwk })],
      ['x5c', () => ({ x5c: ['MIIBszCCAVmgAwIBAgIUQ'] })],
    ])('should refuse a %s header even when the signature is valid', async (_name, header) => {
      await expectRefused(secretOnly, await signHs256(claims(), SECRET, header()));
      await expectRefused(jwksOnly, await signAsymmetric(keys.EdDSA, undefined, header()));
    });

    it('should refuse a critical header extension it does not understand', async () => {
      const token = await signHs256(
        claims(),
        SECRET,
        { crit: ['x-policy'], 'x-policy': 'strict' },
        {
          'x-policy': true,
        },
      );

      await expectRefused(secretOnly, token);
    });

    it.each(['', 'not-a-token', 'a.b.c', 'Bearer x.y.z'])(
      'should refuse the malformed token %j',
      async (token) => {
        await expectRefused(both, token);
      },
    );
  });

  describe('Better Auth JWKS tokens', () => {
    it.each(['EdDSA', 'ES256', 'RS256'] as const)(
      'should accept a %s token signed with a published key',
      async (alg) => {
        await expect(jwksOnly.verify(await signAsymmetric(keys[alg]))).resolves.toEqual({
          id: USER_ID,
        });
        await expect(both.verify(await signAsymmetric(keys[alg]))).resolves.toEqual({
          id: USER_ID,
        });
      },
    );

    it('should fetch the JWKS from {BETTER_AUTH_URL}/api/auth/jwks and cache it', async () => {
      const verifier = verifierFor({ BETTER_AUTH_URL: baseUrl });
      const before = jwksRequests;

      await verifier.verify(await signAsymmetric(keys.EdDSA));
      await verifier.verify(await signAsymmetric(keys.ES256));

      expect(jwksRequests - before).toBe(1);
    });

    it('should refuse a token from the wrong issuer', async () => {
      const token = await signAsymmetric(
        keys.EdDSA,
        claims({ iss: 'https://evil.example', aud: baseUrl }),
      );

      await expectRefused(jwksOnly, token);
    });

    it('should refuse a token for another audience', async () => {
      const token = await signAsymmetric(
        keys.EdDSA,
        claims({ iss: baseUrl, aud: 'https://other.example' }),
      );

      await expectRefused(jwksOnly, token);
    });

    it('should refuse a token without iss or aud', async () => {
      await expectRefused(jwksOnly, await signAsymmetric(keys.EdDSA, claims({ aud: baseUrl })));
      await expectRefused(jwksOnly, await signAsymmetric(keys.EdDSA, claims({ iss: baseUrl })));
    });

    it('should refuse a token without exp or sub', async () => {
      const valid = { iss: baseUrl, aud: baseUrl };

      await expectRefused(
        jwksOnly,
        await signAsymmetric(keys.ES256, claims({ ...valid, exp: undefined })),
      );
      await expectRefused(
        jwksOnly,
        await signAsymmetric(keys.ES256, claims({ ...valid, sub: undefined })),
      );
    });

    it('should refuse a token expired beyond the clock tolerance', async () => {
      const token = await signAsymmetric(
        keys.EdDSA,
        claims({ iss: baseUrl, aud: baseUrl, exp: nowSeconds() - CLOCK_TOLERANCE_SECONDS * 2 }),
      );

      await expectRefused(jwksOnly, token);
    });

    it('should refuse a token signed by an unpublished key under a published kid', async () => {
      const impostor = await publishedKey('EdDSA');

      await expectRefused(jwksOnly, await signAsymmetric({ ...impostor, kid: keys.EdDSA.kid }));
    });

    it('should refuse asymmetric tokens when only a shared secret is configured', async () => {
      for (const key of Object.values(keys)) {
        await expectRefused(secretOnly, await signAsymmetric(key));
      }
    });
  });

  describe('issuer and audience, per token source', () => {
    it('should accept every style its settings name, at once', async () => {
      const verifier = verifierFor({
        BETTER_AUTH_URL: baseUrl,
        BETTER_AUTH_SECRET: SECRET,
        JWT_AUDIENCE: `${baseUrl}, https://custom-audience.example`,
      });
      const accepted = [
        await signHs256(claims()), // minted by a Next.js route, neither iss nor aud
        await signHs256(claims({ iss: 'https://app.example.com', aud: 'anything' })),
        await signAsymmetric(keys.EdDSA), // Better Auth's defaults
        await signAsymmetric(
          keys.EdDSA,
          claims({ iss: baseUrl, aud: 'https://custom-audience.example' }),
        ),
      ];

      for (const token of accepted) {
        await expect(verifier.verify(token)).resolves.toEqual({ id: USER_ID });
      }
      await expectRefused(
        verifier,
        await signAsymmetric(keys.EdDSA, claims({ iss: baseUrl, aud: 'https://other.example' })),
        'Token claim "aud" is invalid',
      );
    });

    it('should bind HS256 tokens to HS256_AUDIENCE without touching JWKS tokens', async () => {
      const verifier = verifierFor({
        BETTER_AUTH_URL: baseUrl,
        BETTER_AUTH_SECRET: SECRET,
        HS256_AUDIENCE: 'todo-api',
      });

      await expect(verifier.verify(await signHs256(claims({ aud: 'todo-api' })))).resolves.toEqual({
        id: USER_ID,
      });
      await expect(verifier.verify(await signAsymmetric(keys.ES256))).resolves.toEqual({
        id: USER_ID,
      });
      await expectRefused(verifier, await signHs256(claims()), 'Token claim "aud" is invalid');
      await expectRefused(
        verifier,
        await signHs256(claims({ aud: baseUrl })),
        'Token claim "aud" is invalid',
      );
    });
  });

  describe('algorithm confusion (HS256 keyed with a public key)', () => {
    async function confusionSecrets(): Promise<[string, string | Uint8Array][]> {
      return [
        ['the RSA SPKI PEM', await exportSPKI(keys.RS256.publicKey)],
        ['the Ed25519 SPKI PEM', await exportSPKI(keys.EdDSA.publicKey)],
        ['the JWK x value', keys.EdDSA.publicJwk.x!],
        ['the raw Ed25519 public key', base64url.decode(keys.EdDSA.publicJwk.x!)],
        ['the whole public JWK', JSON.stringify(keys.EdDSA.publicJwk)],
      ];
    }

    it('should refuse them when a JWKS and a different shared secret are configured', async () => {
      for (const [, secret] of await confusionSecrets()) {
        const payload = claims({ iss: baseUrl, aud: baseUrl });
        await expectRefused(both, await signHs256(payload, secret, { kid: keys.RS256.kid }));
        await expectRefused(both, await signHs256(payload, secret, { kid: keys.EdDSA.kid }));
      }
    });

    it('should refuse them when only a JWKS is configured', async () => {
      for (const [, secret] of await confusionSecrets()) {
        const payload = claims({ iss: baseUrl, aud: baseUrl });
        await expectRefused(jwksOnly, await signHs256(payload, secret, { kid: keys.RS256.kid }));
        await expectRefused(jwksOnly, await signHs256(payload, secret, { kid: keys.EdDSA.kid }));
      }
    });

    it('should still accept HS256 signed with the configured secret beside a JWKS', async () => {
      await expect(both.verify(await signHs256(claims(), OTHER_SECRET))).resolves.toEqual({
        id: USER_ID,
      });
    });
  });

  describe('the same rules and messages, whichever library checks the signature', () => {
    const expired = () =>
      claims({ iss: baseUrl, aud: baseUrl, exp: nowSeconds() - CLOCK_TOLERANCE_SECONDS * 2 });

    it.each([
      ['an expired token', expired, {}, 'Token has expired', 'expired'],
      [
        'another issuer',
        () => claims({ iss: 'https://evil', aud: baseUrl }),
        {},
        'Token claim "iss" is invalid',
        'wrong_issuer',
      ],
      [
        'another audience',
        () => claims({ iss: baseUrl, aud: 'other' }),
        {},
        'Token claim "aud" is invalid',
        'wrong_audience',
      ],
      [
        'a token not valid yet',
        () => claims({ iss: baseUrl, aud: baseUrl, nbf: nowSeconds() + 3600 }),
        {},
        'Token claim "nbf" is invalid',
        'not_yet_valid',
      ],
      [
        'an iat in the future',
        () => claims({ iss: baseUrl, aud: baseUrl, iat: nowSeconds() + 3600 }),
        {},
        'Token claim "iat" is invalid',
        'issued_in_future',
      ],
      [
        'no exp',
        () => claims({ iss: baseUrl, aud: baseUrl, exp: undefined }),
        {},
        'Token claim "exp" is invalid',
        'bad_expiry',
      ],
      [
        'an absurd exp',
        () => claims({ iss: baseUrl, aud: baseUrl, exp: 1e308 }),
        {},
        'Token claim "exp" is invalid',
        'bad_expiry',
      ],
      [
        'no sub',
        () => claims({ iss: baseUrl, aud: baseUrl, sub: undefined }),
        {},
        'Token claim "sub" is invalid',
        'bad_subject',
      ],
      [
        'a key in the header',
        () => claims({ iss: baseUrl, aud: baseUrl }),
        { jku: 'https://attacker.example/jwks' },
        'Token header names its own key',
        'key_in_header',
      ],
    ])('should refuse %s', async (_case, payload, header, message, reason) => {
      // HS256 checks iss and aud only when configured: configure them as the JWKS source has them.
      const hs256 = verifierFor({
        BETTER_AUTH_SECRET: SECRET,
        HS256_ISSUER: baseUrl,
        HS256_AUDIENCE: baseUrl,
      });
      await expectRefused(hs256, await signHs256(payload(), SECRET, header), message, reason);
      await expectRefused(
        jwksOnly,
        await signAsymmetric(keys.EdDSA, payload(), header),
        message,
        reason,
      );
    });

    it('should name a bad signature, an unknown kid and a missing token as such in the log', async () => {
      const impostor = await publishedKey('EdDSA');

      await expectRefused(
        secretOnly,
        await signHs256(claims(), OTHER_SECRET),
        'Invalid token',
        'bad_signature',
      );
      await expectRefused(
        jwksOnly,
        await signAsymmetric({ ...impostor, kid: keys.EdDSA.kid }),
        'Invalid token',
        'bad_signature',
      );
      await expectRefused(
        jwksOnly,
        await signAsymmetric({ ...impostor, kid: 'never-published' }),
        'Invalid token',
        'unknown_kid',
      );
      await expectRefused(both, 'xx.yy.zz', 'Malformed token', 'malformed');
      await expectRefused(both, '', 'Not authenticated', 'no_token');
    });

    it('should refuse a token whose claims are not a JSON object, never failing with a 500', async () => {
      for (const body of ['null', '42', '"user"', '[1]']) {
        const token = await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .sign(new TextEncoder().encode(SECRET))
          .then((signed) => {
            // Re-sign by hand with the odd body: jose's SignJWT only signs objects.
            const [header] = signed.split('.');
            const input = `${header}.${base64url.encode(body)}`;
            const mac = createHmac('sha256', SECRET).update(input).digest('base64url');
            return `${input}.${mac}`;
          });
        await expectRefused(secretOnly, token, 'Malformed token', 'malformed');
      }
    });

    it('should answer a token of no configured kind with "Token algorithm not accepted"', async () => {
      await expectRefused(
        jwksOnly,
        await signHs256(),
        'Token algorithm not accepted',
        'algorithm_not_accepted',
      );
      await expectRefused(
        secretOnly,
        await signAsymmetric(keys.EdDSA),
        'Token algorithm not accepted',
        'algorithm_not_accepted',
      );
    });
  });

  describe(JwtStrategy.name, () => {
    type Verifier = (token: string, key: unknown, options: object, done: unknown) => void;
    let jsonwebtoken: jest.SpyInstance<void, Parameters<Verifier>>;

    beforeEach(() => {
      // passport-jwt's own seam: what it calls to have jsonwebtoken verify a token.
      jsonwebtoken = jest.spyOn(PassportJwt as unknown as { JwtVerifier: Verifier }, 'JwtVerifier');
    });
    afterEach(() => jsonwebtoken.mockRestore());

    it('should have jsonwebtoken verify with one KeyObject and HS256 only', async () => {
      const verifier = verifierFor({ BETTER_AUTH_SECRET: SECRET });

      await verifier.verify(await signHs256());
      await verifier.verify(await signHs256(claims({ sub: 'another-user' })));

      expect(jsonwebtoken).toHaveBeenCalledTimes(2);
      const [[, firstKey, options], [, secondKey]] = jsonwebtoken.mock.calls;
      expect(firstKey).toBeInstanceOf(KeyObject);
      expect((firstKey as KeyObject).type).toBe('secret');
      expect(secondKey).toBe(firstKey);
      expect(options).toMatchObject({
        algorithms: ['HS256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
    });

    it('should answer a token it verified before from the cache', async () => {
      const verifier = verifierFor({ BETTER_AUTH_SECRET: SECRET });
      const token = await signHs256();

      await expect(verifier.verify(token)).resolves.toEqual({ id: USER_ID });
      await expect(verifier.verify(token)).resolves.toEqual({ id: USER_ID });

      expect(jsonwebtoken).toHaveBeenCalledTimes(1);
    });

    it('should decline JWKS tokens without asking jsonwebtoken', async () => {
      await expect(both.verify(await signAsymmetric(keys.ES256))).resolves.toEqual({ id: USER_ID });
      await expectRefused(both, await signAsymmetric({ ...keys.ES256, alg: 'ES256' }, claims()));

      expect(jsonwebtoken).not.toHaveBeenCalled();
    });
  });

  describe(JwksStrategy.name, () => {
    it('should never look an HMAC token up in the JWKS', async () => {
      const verifier = verifierFor({ BETTER_AUTH_URL: baseUrl });
      const before = jwksRequests;

      await expectRefused(verifier, await signHs256(claims({ iss: baseUrl, aud: baseUrl })));

      expect(jwksRequests).toBe(before);
    });

    it('should accept a token cached by the JWKS strategy only there', async () => {
      const verifier = verifierFor({ BETTER_AUTH_URL: baseUrl, BETTER_AUTH_SECRET: OTHER_SECRET });
      const [jwt, jwks] = verifier.strategies;
      const token = await signAsymmetric(keys.EdDSA);
      await verifier.verify(token);
      const jwtValidate = jest.spyOn(jwt, 'validate');
      const jwksValidate = jest.spyOn(jwks, 'validate');

      await expect(verifier.verify(token)).resolves.toEqual({ id: USER_ID });

      expect(jwtValidate).not.toHaveBeenCalled();
      expect(jwksValidate).not.toHaveBeenCalled();
    });
  });

  describe(SessionTokenStrategy.name, () => {
    const SESSION = 'Q3Jb8x2mPzT7vLk0aWc9dEfGhIjKlMnO'; // 32 letters and digits, as Better Auth's
    const signedBy = (secret: string, token = SESSION) =>
      `${token}.${createHmac('sha256', secret).update(token).digest('base64')}`;
    const inAMinute = () => new Date(Date.now() + 60_000);

    let lookup: { find: jest.Mock<Promise<SessionRecord | undefined>, [SessionToken]> };
    let now: number;

    beforeEach(() => {
      lookup = {
        find: jest.fn<Promise<SessionRecord | undefined>, [SessionToken]>(() =>
          Promise.resolve({ userId: USER_ID, expiresAt: inAMinute() }),
        ),
      };
      now = Date.now();
      jest.spyOn(Date, 'now').mockImplementation(() => now);
    });
    afterEach(() => jest.restoreAllMocks());

    const sessionsOn = (env: Record<string, string> = {}) =>
      new Authenticator(
        configFor({
          BETTER_AUTH_URL: baseUrl,
          BETTER_AUTH_SECRET: SECRET,
          BETTER_AUTH_SESSION_TOKENS: 'true',
          BETTER_AUTH_SESSION_CACHE_SECONDS: '10',
          ...env,
        }),
        lookup,
      );

    it("should accept the bare, signed and URL-encoded signed forms as the session's user", async () => {
      const verifier = sessionsOn({ BETTER_AUTH_SESSION_CACHE_SECONDS: '0' });
      const signed = signedBy(SECRET);

      for (const token of [SESSION, signed, encodeURIComponent(signed)]) {
        await expect(verifier.verify(token)).resolves.toEqual({ id: USER_ID });
      }

      expect(lookup.find.mock.calls).toEqual([
        [{ token: SESSION }],
        [{ token: SESSION, signed }],
        [{ token: SESSION, signed }],
      ]);
    });

    it('should refuse a signature not made with the secret, without a lookup', async () => {
      const verifier = sessionsOn();
      const forged = signedBy(OTHER_SECRET);

      await expectRefused(verifier, forged, 'Invalid token', 'bad_signature');
      await expectRefused(verifier, encodeURIComponent(forged), 'Invalid token', 'bad_signature');
      expect(lookup.find).not.toHaveBeenCalled();
    });

    it('should leave the signature to the lookup when the secret is not known here', async () => {
      const verifier = sessionsOn({ BETTER_AUTH_SECRET: '' });
      const forged = signedBy(OTHER_SECRET);
      lookup.find.mockResolvedValue(undefined);

      await expectRefused(verifier, forged, 'Session not found or signed out', 'session_unknown');
      expect(lookup.find).toHaveBeenCalledWith({ token: SESSION, signed: forged });
    });

    it.each([
      ['31 characters', SESSION.slice(1)],
      ['a character outside letters and digits', `${SESSION.slice(1)}-`],
      ['lower-case escapes', encodeURIComponent(signedBy(SECRET)).replace(/%3D$/, '%3d')],
      ['escapes mixed with raw characters', signedBy(SECRET).replace(/=$/, '%3D')],
      ['no padding', signedBy(SECRET).replace(/=$/, '')],
      [
        'an unused bit set in the signature',
        signedBy(SECRET).replace(/(.)=$/, (_m, last: string) =>
          last === 'A' ? 'B=' : `${String.fromCharCode(last.charCodeAt(0) ^ 1)}=`,
        ),
      ],
    ])(
      'should refuse a session token with %s as malformed, without a lookup',
      async (_c, token) => {
        await expectRefused(sessionsOn(), token, 'Malformed token', 'malformed');
        expect(lookup.find).not.toHaveBeenCalled();
      },
    );

    it('should refuse an unknown, an expired or an unusable session', async () => {
      const verifier = sessionsOn();
      lookup.find.mockResolvedValueOnce(undefined);
      await expectRefused(verifier, SESSION, 'Session not found or signed out', 'session_unknown');

      lookup.find.mockResolvedValueOnce({ userId: USER_ID, expiresAt: new Date(now - 1) });
      await expectRefused(verifier, SESSION, 'Session has expired', 'session_expired');

      for (const userId of ['', ' ', 'user\u0000one']) {
        lookup.find.mockResolvedValueOnce({ userId, expiresAt: inAMinute() });
        await expectRefused(verifier, SESSION, 'Invalid token', 'bad_subject');
      }
    });

    it('should cache a session for the cache time, never past its expiry, and never a refusal', async () => {
      const verifier = sessionsOn();
      lookup.find.mockResolvedValueOnce(undefined);
      await expectRefused(verifier, SESSION);
      await expect(verifier.verify(SESSION)).resolves.toEqual({ id: USER_ID });
      expect(lookup.find).toHaveBeenCalledTimes(2); // the refusal was not remembered

      now += 9_999;
      await verifier.verify(SESSION);
      expect(lookup.find).toHaveBeenCalledTimes(2);
      now += 1;
      await verifier.verify(SESSION);
      expect(lookup.find).toHaveBeenCalledTimes(3);

      // A session that ends in 2 s is trusted 2 s, not the 10 s of the cache.
      const other = signedBy(SECRET, SESSION.replace('Q', 'R'));
      lookup.find.mockResolvedValueOnce({ userId: USER_ID, expiresAt: new Date(now + 2_000) });
      await verifier.verify(other);
      now += 1_999;
      await verifier.verify(other);
      expect(lookup.find).toHaveBeenCalledTimes(4);
      now += 1;
      await verifier.verify(other);
      expect(lookup.find).toHaveBeenCalledTimes(5);
    });

    it('should share one lookup between requests that bring the same token at once', async () => {
      const verifier = sessionsOn();
      let answer!: (record: SessionRecord) => void;
      lookup.find.mockReturnValueOnce(new Promise((resolve) => (answer = resolve)));

      const requests = [verifier.verify(SESSION), verifier.verify(SESSION)];
      await new Promise((resolve) => setImmediate(resolve));
      answer({ userId: USER_ID, expiresAt: inAMinute() });

      await expect(Promise.all(requests)).resolves.toEqual([{ id: USER_ID }, { id: USER_ID }]);
      expect(lookup.find).toHaveBeenCalledTimes(1);
    });

    it('should pass on that Better Auth cannot be asked (503), not refuse', async () => {
      const verifier = sessionsOn();
      lookup.find.mockRejectedValueOnce(new SessionCheckUnavailableError());

      await expect(verifier.verify(SESSION)).rejects.toBeInstanceOf(SessionCheckUnavailableError);
      expect(verifier.lastReason).toBe('session_check_unavailable');
    });

    it('should leave JWTs to their strategies', async () => {
      const verifier = sessionsOn();
      const [, , sessions] = verifier.strategies;
      const validate = jest.spyOn(sessions, 'validate');

      await expect(verifier.verify(await signHs256())).resolves.toEqual({ id: USER_ID });
      await expect(verifier.verify(await signAsymmetric(keys.EdDSA))).resolves.toEqual({
        id: USER_ID,
      });
      await expectRefused(verifier, 'xx.yy.zz', 'Malformed token', 'malformed');

      expect(lookup.find).not.toHaveBeenCalled();
      expect(validate).not.toHaveBeenCalled();
    });

    it('should refuse session tokens as malformed when they are off, as before', async () => {
      const verifier = new Authenticator(configFor({ BETTER_AUTH_SECRET: SECRET }), lookup);

      for (const token of [SESSION, signedBy(SECRET), encodeURIComponent(signedBy(SECRET))]) {
        await expectRefused(verifier, token, 'Malformed token', 'malformed');
      }
      expect(lookup.find).not.toHaveBeenCalled();
    });
  });
});

describe(isCanonicalCompactJws.name, () => {
  // {"alg":"HS256"} . {"sub":"a"} . 32 bytes: 43 characters, 2 unused bits in the last one.
  const header = base64url.encode(JSON.stringify({ alg: 'HS256' }));
  const payload = base64url.encode(JSON.stringify({ sub: 'a' }));
  const signature = base64url.encode(new Uint8Array(32).fill(0xab));

  it('should accept the canonical spelling', () => {
    expect(isCanonicalCompactJws(`${header}.${payload}.${signature}`)).toBe(true);
  });

  it.each([
    ['padding on the signature', `${header}.${payload}.${signature}=`],
    ['padding on the header', `${header}=.${payload}.${signature}`],
    [
      'an unused bit set',
      `${header}.${payload}.${signature.slice(0, -1)}${String.fromCharCode(signature.charCodeAt(42) + 1)}`,
    ],
    ['base64 (not url) characters', `${header}.${payload}.${signature.replace(/./, '+')}`],
    ['an empty signature (alg none)', `${header}.${payload}.`],
    ['two segments', `${header}.${payload}`],
    ['four segments', `${header}.${payload}.${signature}.${signature}`],
  ])('should refuse %s', (_case, token) => {
    expect(isCanonicalCompactJws(token)).toBe(false);
  });
});

import { Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  errors,
  JSONWebKeySet,
  JWK,
  JWTVerifyGetKey,
  FlattenedJWSInput,
  JWSHeaderParameters,
} from 'jose';

export interface JwksKeyStoreOptions {
  url: URL;
  /** Least time between two fetches: an unknown `kid` cannot make us hammer the JWKS. */
  cooldownMs: number;
  /** After this the set is refreshed in the background; the cached keys stay in use meanwhile. */
  cacheMaxAgeMs: number;
  timeoutMs: number;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * The Better Auth JWKS, cached. Unlike a plain remote key set, a failed refresh never drops keys
 * already fetched, so a JWKS outage does not log every user out. Private and symmetric keys in
 * the document are ignored: a key the issuer's public document calls `oct` must never verify.
 */
export class JwksKeyStore {
  private readonly logger = new Logger(JwksKeyStore.name);
  private keySet?: LocalKeySet;
  private keyCount = 0;
  private fetchedAt = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;

  constructor(
    private readonly options: JwksKeyStoreOptions,
    private readonly fetchFn: typeof fetch = fetch,
    private readonly now: () => number = Date.now,
  ) {}

  /** For `jwtVerify`: picks the key by the token's `kid` and `alg`. */
  readonly getKey: JWTVerifyGetKey = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ) => {
    if (!this.keySet) {
      await this.refresh();
    } else if (this.now() - this.fetchedAt > this.options.cacheMaxAgeMs) {
      void this.refresh();
    }
    if (!this.keySet) throw new errors.JWKSNoMatchingKey('No JWKS is available yet');
    try {
      return await this.keySet(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A new kid usually means the issuer rotated its keys: look again, at most once a cooldown.
      await this.refresh();
      return this.keySet(header, token);
    }
  };

  /** Loads the set if the cooldown allows; concurrent callers share one request. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.now() - this.lastAttemptAt < this.options.cooldownMs) return Promise.resolve();
    this.lastAttemptAt = this.now();
    this.inflight = this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    try {
      const response = await this.fetchFn(this.options.url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as Partial<JSONWebKeySet>;
      if (!body || !Array.isArray(body.keys)) throw new Error('not a JWKS document');
      const keys = body.keys.filter(isPublicAsymmetricKey);
      this.keySet = createLocalJWKSet({ keys });
      this.keyCount = keys.length;
      this.fetchedAt = this.now();
      this.logger.debug(`Loaded ${keys.length} signing key(s) from ${this.options.url.origin}`);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unknown error';
      this.logger.warn(
        `JWKS fetch from ${this.options.url.origin} failed (${reason}); ` +
          `keeping ${this.keyCount} cached key(s)`,
      );
    }
  }
}

function isPublicAsymmetricKey(key: JWK): boolean {
  return (
    typeof key === 'object' &&
    key !== null &&
    ['OKP', 'EC', 'RSA'].includes(key.kty ?? '') &&
    key.d === undefined &&
    (key.use === undefined || key.use === 'sig')
  );
}

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
import { NO_JWKS_YET } from './token-rules';

export interface JwksKeyStoreOptions {
  url: URL;
  /** Least time between the end of one fetch and the next: an unknown `kid` cannot make us hammer the JWKS. */
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
 *
 * The next fetch is allowed a cooldown after the previous one ENDED (counted from its start, a
 * fetch that timed out would leave no cooldown at all). Until a fetch succeeds again a token
 * whose `kid` is not cached fails at once instead of waiting for a fetch that is likely to fail
 * too; only the token that starts the next attempt, once the cooldown is over, waits for it.
 * The wait does not grow with failures: one request per cooldown is no load for the issuer, and
 * keys rotated during an outage must work soon after it ends (a doubling wait made them fail for
 * 10 s and more in the fault drill).
 */
export class JwksKeyStore {
  private readonly logger = new Logger(JwksKeyStore.name);
  private keySet?: LocalKeySet;
  private keyCount = 0;
  private fetchedAt = 0;
  /** No fetch before this (end of the last one + cooldown). */
  private nextAttemptAt = Number.NEGATIVE_INFINITY;
  /** Fetches that failed in a row. */
  private failures = 0;
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
      await this.refreshUnlessFailing();
    } else if (this.now() - this.fetchedAt > this.options.cacheMaxAgeMs) {
      void this.refresh();
    }
    if (!this.keySet) throw new errors.JWKSNoMatchingKey(NO_JWKS_YET);
    try {
      return await this.keySet(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A new kid usually means the issuer rotated its keys: look again, at most once a cooldown.
      await this.refreshUnlessFailing();
      return this.keySet(header, token);
    }
  };

  /** True while the last fetch failed and no new one may start yet, or one is already running. */
  get failing(): boolean {
    return this.failures > 0 && (this.inflight !== undefined || this.now() < this.nextAttemptAt);
  }

  /** Loads the set if the cooldown allows; concurrent callers share one request. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.now() < this.nextAttemptAt) return Promise.resolve();
    this.inflight = this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** While the JWKS is failing, starts a fetch if one is due but does not wait for it. */
  private async refreshUnlessFailing(): Promise<void> {
    if (this.failing) {
      void this.refresh();
      return;
    }
    await this.refresh();
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
      this.failures = 0;
      this.nextAttemptAt = this.now() + this.options.cooldownMs;
      this.logger.debug(`Loaded ${keys.length} signing key(s) from ${this.options.url.origin}`);
    } catch (error) {
      this.failures++;
      this.nextAttemptAt = this.now() + this.options.cooldownMs;
      const reason = error instanceof Error ? error.message : 'unknown error';
      this.logger.warn(
        `JWKS fetch from ${this.options.url.origin} failed (${reason}); ` +
          `keeping ${this.keyCount} cached key(s), next attempt in ${this.options.cooldownMs} ms at the earliest`,
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

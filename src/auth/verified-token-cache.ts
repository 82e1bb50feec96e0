import { AuthUser } from './auth-user';

interface Entry<T> {
  value: T;
  /** Epoch ms after which the entry must not be used (token expiry or the cache's own limit). */
  expiresAt: number;
}

/**
 * Remembers tokens that passed full verification, keyed by the whole token string (signature
 * included, so no other token can hit an entry). A client sends the same token for its whole
 * life, so this spares a signature check and a promise round per request. An entry never
 * outlives the token's `exp`, nor `maxAgeMs`, so a key removed from the JWKS stops being honoured
 * within that time. Least recently inserted entries are dropped first beyond `maxEntries`.
 */
export class VerifiedTokenCache<T = AuthUser> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  set(token: string, value: T, tokenExpiresAtMs: number): void {
    if (!(this.maxEntries > 0)) return;
    const expiresAt = Math.min(tokenExpiresAtMs, this.now() + this.maxAgeMs);
    if (!(expiresAt > this.now())) return; // also refuses NaN: nothing is cached without a bound
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { value, expiresAt });
  }
}

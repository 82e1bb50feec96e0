import { VerifiedTokenCache } from './verified-token-cache';

describe(VerifiedTokenCache.name, () => {
  let now: number;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('should return a cached user until the token expires', () => {
    const cache = new VerifiedTokenCache(10, 60_000, clock);
    cache.set('t', { id: 'alice' }, now + 5_000);
    expect(cache.get('t')).toEqual({ id: 'alice' });
    now += 4_999;
    expect(cache.get('t')).toEqual({ id: 'alice' });
    now += 1;
    expect(cache.get('t')).toBeUndefined();
  });

  it('should never keep an entry longer than its max age, even for a long-lived token', () => {
    const cache = new VerifiedTokenCache(10, 60_000, clock);
    cache.set('t', { id: 'alice' }, now + 3_600_000);
    now += 60_000;
    expect(cache.get('t')).toBeUndefined();
  });

  it('should only answer for the exact token text', () => {
    const cache = new VerifiedTokenCache(10, 60_000, clock);
    cache.set('header.payload.sig', { id: 'alice' }, now + 5_000);
    expect(cache.get('header.payload.sig2')).toBeUndefined();
    expect(cache.get('header.payload.si')).toBeUndefined();
  });

  it('should drop the oldest entry beyond its size', () => {
    const cache = new VerifiedTokenCache(2, 60_000, clock);
    cache.set('a', { id: 'a' }, now + 5_000);
    cache.set('b', { id: 'b' }, now + 5_000);
    cache.set('c', { id: 'c' }, now + 5_000);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toEqual({ id: 'b' });
    expect(cache.get('c')).toEqual({ id: 'c' });
  });

  it('should cache nothing when disabled, already expired, or without a usable expiry', () => {
    const off = new VerifiedTokenCache(0, 60_000, clock);
    off.set('t', { id: 'alice' }, now + 5_000);
    expect(off.get('t')).toBeUndefined();
    const cache = new VerifiedTokenCache(10, 60_000, clock);
    cache.set('expired', { id: 'alice' }, now);
    cache.set('nan', { id: 'alice' }, Number.NaN);
    expect(cache.get('expired')).toBeUndefined();
    expect(cache.get('nan')).toBeUndefined();
  });
});

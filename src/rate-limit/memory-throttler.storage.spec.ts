import { MemoryThrottlerStorage } from './memory-throttler.storage';

describe(MemoryThrottlerStorage.name, () => {
  let now: number;
  let storage: MemoryThrottlerStorage;

  beforeEach(() => {
    now = 1_700_000_000_000;
    storage = new MemoryThrottlerStorage(() => now);
  });
  afterEach(() => storage.onModuleDestroy());

  it('should count hits per key in one fixed window', () => {
    expect(storage.hit('u:a', 60_000).hits).toBe(1);
    now += 30_000;
    expect(storage.hit('u:a', 60_000)).toEqual({ hits: 2, resetAt: 1_700_000_060_000 });
    expect(storage.hit('u:b', 60_000).hits).toBe(1);
  });

  it('should open a new window once the old one has closed', () => {
    storage.hit('u:a', 60_000);
    storage.hit('u:a', 60_000);
    now += 60_000;
    expect(storage.hit('u:a', 60_000)).toEqual({ hits: 1, resetAt: 1_700_000_120_000 });
  });

  it("should answer the throttler's storage interface", async () => {
    for (let i = 0; i < 3; i++) await storage.increment('a:1.2.3.4', 60_000, 3);
    now += 15_500;
    await expect(storage.increment('a:1.2.3.4', 60_000, 3)).resolves.toEqual({
      totalHits: 4,
      timeToExpire: 45,
      isBlocked: true,
      timeToBlockExpire: 45,
    });
  });
});

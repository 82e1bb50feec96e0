import { OnModuleDestroy } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/** One key's fixed window: the hits counted since it opened, and when it closes (epoch ms). */
export interface RateWindow {
  hits: number;
  resetAt: number;
}

/** Keys remembered at most; beyond it the oldest window is dropped (a flood of addresses). */
const MAX_KEYS = 100_000;

/**
 * In-process counters: one fixed window per key, counted in place. The throttler's own storage
 * keeps a timestamp per hit and filters that list on every request (O(limit) time and garbage per
 * request); this is one Map lookup and an increment, so the limiter costs next to nothing on the
 * request path. Expired windows are swept once per window length.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly windows = new Map<string, RateWindow>();
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts a hit for `key` and returns its window (the same object each time: read it at once). */
  hit(key: string, ttlMs: number): RateWindow {
    const now = this.now();
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= MAX_KEYS) this.makeRoom(now);
      window = { hits: 0, resetAt: now + ttlMs };
      this.windows.set(key, window);
      this.sweeper ??= setInterval(() => this.sweep(this.now()), ttlMs).unref();
    } else if (window.resetAt <= now) {
      window.hits = 0;
      window.resetAt = now + ttlMs;
    }
    window.hits++;
    return window;
  }

  /** The throttler's storage interface, for code that holds it as a plain `ThrottlerStorage`. */
  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const { hits, resetAt } = this.hit(key, ttl);
    const timeToExpire = Math.ceil((resetAt - this.now()) / 1000);
    const isBlocked = hits > limit;
    return Promise.resolve({
      totalHits: hits,
      timeToExpire,
      isBlocked,
      timeToBlockExpire: isBlocked ? timeToExpire : 0,
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) {
      if (window.resetAt <= now) this.windows.delete(key);
    }
  }

  private makeRoom(now: number): void {
    this.sweep(now);
    if (this.windows.size < MAX_KEYS) return;
    const oldest = this.windows.keys().next();
    if (!oldest.done) this.windows.delete(oldest.value);
  }
}

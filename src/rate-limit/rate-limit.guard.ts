import { ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { Request, Response } from 'express';
import { skipThrottleMetadataKey } from '../common/framework-internals';
import { logAsRequest } from '../common/logging';
import { rateLimitConfig, RateLimitConfig } from '../config/configuration';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

const WINDOW_MS = 60_000;
/** What `@SkipThrottle()` records on a handler or controller (see common/framework-internals.ts). */
const SKIP_METADATA = skipThrottleMetadataKey();
const WARN_EVERY_MS = 10_000;

/**
 * The global rate limit, @nestjs/throttler's guard with a lean request path: per user (the
 * verified token's `sub`, set by the auth guard that runs before it) or, for requests without a
 * valid token, per client address (`req.ip`, which honours TRUST_PROXY). The auth guard counts
 * the requests it refuses through {@link countRefused}, so 401s are counted per address too. One fixed
 * one-minute window per caller, across all routes. Answers carry the IETF draft's `RateLimit-*`
 * headers; past the limit it is 429 with `Retry-After`. `@SkipThrottle()` routes (health) are free.
 * Should the shared store (Redis) fail, requests go through: an outage of the limiter must not
 * become an outage of the API.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly log = new Logger('RateLimit');
  private readonly userLimit: number;
  private readonly anonLimit: number;
  private readonly memory?: MemoryThrottlerStorage;
  private readonly skipped = new WeakMap<object, boolean>();
  private lastWarning = 0;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(rateLimitConfig.KEY) config: RateLimitConfig,
  ) {
    super(options, storage, reflector);
    this.userLimit = config.userPerMinute;
    this.anonLimit = config.anonPerMinute;
    if (storage instanceof MemoryThrottlerStorage) this.memory = storage;
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isSkipped(context)) return true;
    const request = context.switchToHttp().getRequest<Request & { user?: { id: string } }>();
    await this.count(context, request.user?.id);
    return true;
  }

  /** A request the auth guard refuses for its token: counted against the client's address. */
  async countRefused(context: ExecutionContext): Promise<void> {
    if (!this.isSkipped(context)) await this.count(context, undefined);
  }

  /** Counts the hit and sets the `RateLimit-*` headers; throws 429 past the limit. */
  private async count(context: ExecutionContext, userId: string | undefined): Promise<void> {
    const http = context.switchToHttp();
    const limit = userId === undefined ? this.anonLimit : this.userLimit;
    if (limit === 0) return;
    const key =
      userId === undefined
        ? `a:${normalizeIp(http.getRequest<Request>().ip ?? '')}`
        : `u:${userId}`;

    let hits: number;
    let resetInSeconds: number;
    if (this.memory) {
      const window = this.memory.hit(key, WINDOW_MS);
      hits = window.hits;
      resetInSeconds = Math.ceil((window.resetAt - Date.now()) / 1000);
    } else {
      try {
        // blockDuration 1 ms: no block beyond the window, so both stores count fixed windows.
        const record = await this.storageService.increment(key, WINDOW_MS, limit, 1, 'default');
        hits = record.totalHits;
        resetInSeconds = record.timeToExpire;
      } catch (error) {
        logAsRequest(http.getResponse<Response>(), () => this.warnStoreDown(error));
        return;
      }
    }

    const response = http.getResponse<Response>();
    response.setHeader('RateLimit-Limit', limit);
    response.setHeader('RateLimit-Remaining', hits >= limit ? 0 : limit - hits);
    response.setHeader('RateLimit-Reset', resetInSeconds);
    if (hits > limit) {
      response.setHeader('Retry-After', resetInSeconds);
      throw new ThrottlerException(
        `Too many requests: at most ${limit} a minute; retry in ${resetInSeconds} s`,
      );
    }
  }

  private isSkipped(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let skipped = this.skipped.get(handler);
    if (skipped === undefined) {
      skipped =
        this.reflector.getAllAndOverride<boolean | undefined>(SKIP_METADATA, [
          handler,
          context.getClass(),
        ]) === true;
      this.skipped.set(handler, skipped);
    }
    return skipped;
  }

  private warnStoreDown(error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    const reason = error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : 'unknown';
    this.log.warn(`Rate-limit store unavailable (${reason}); requests are not limited meanwhile`);
  }
}

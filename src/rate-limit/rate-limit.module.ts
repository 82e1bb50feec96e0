import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { rateLimitConfig, RateLimitConfig } from '../config/configuration';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { RateLimitGuard } from './rate-limit.guard';

/**
 * The throttler's options and store: Redis when REDIS_URL is set (every replica counts in the
 * same windows), else in-process counters, and the guard ({@link RateLimitGuard}), provided
 * here once: app.module.ts registers it globally, where the order of the global guards is
 * decided, and the auth guard asks it to count the requests it refuses.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [rateLimitConfig.KEY],
      useFactory: (rateLimit: RateLimitConfig) => ({
        throttlers: [{ name: 'default', ttl: 60_000, limit: rateLimit.userPerMinute }],
        storage: rateLimit.redisUrl
          ? new ThrottlerStorageRedisService(rateLimit.redisUrl, {
              // Fail fast while Redis is away (the guard then lets requests through) rather
              // than queue every request behind reconnection attempts.
              enableOfflineQueue: false,
              maxRetriesPerRequest: 1,
              connectTimeout: 2_000,
            })
          : new MemoryThrottlerStorage(),
      }),
    }),
  ],
  providers: [RateLimitGuard],
  exports: [ThrottlerModule, RateLimitGuard],
})
export class RateLimitModule {}

import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { rateLimitConfig, RateLimitConfig } from '../config/configuration';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

/**
 * The throttler's options and store: Redis when REDIS_URL is set (every replica counts in the
 * same windows), else in-process counters. The guard ({@link RateLimitGuard}) is registered
 * globally in app.module.ts, where the order of the global guards is decided.
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
  exports: [ThrottlerModule],
})
export class RateLimitModule {}

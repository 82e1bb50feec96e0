import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { JsonBodyGuard } from './common/body-parsing';
import { configModule } from './config/config.module';
import { httpConfig, HttpConfig } from './config/configuration';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  /**
   * The app, with its configuration read when this is called (bootstrap, e2e tests) rather than
   * when this file is imported: see {@link configModule}.
   */
  static forRoot(): DynamicModule {
    return {
      module: AppModule,
      imports: [
        configModule(),
        DatabaseModule,
        AuthModule,
        RateLimitModule,
        HealthModule,
        TasksModule,
      ],
      // Global guards run in this order: passport verifies the token (and has a refused request
      // counted against its address), then the rate limit counts the request as its user's (or
      // its address's on a public route), and only then is the body read.
      providers: [
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        {
          provide: APP_GUARD,
          inject: [httpConfig.KEY],
          useFactory: (http: HttpConfig) => new JsonBodyGuard(http.bodyLimit),
        },
      ],
    };
  }
}

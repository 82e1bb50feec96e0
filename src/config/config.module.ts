import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig } from './app-config';

/**
 * Loads `.env` (real environment variables win) and provides the validated {@link AppConfig}.
 * Validation runs when the app is created, not when this file is imported, so tests and
 * scripts can set the environment first.
 */
@Global()
@Module({
  imports: [ConfigModule.forRoot({ cache: true })],
  providers: [{ provide: AppConfig, useFactory: () => AppConfig.fromEnv() }],
  exports: [AppConfig],
})
export class AppConfigModule {}

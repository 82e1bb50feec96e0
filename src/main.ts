import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { createLogger } from './common/logging';
import { AppConfig } from './config/app-config';
import { InvalidEnvironmentError } from './config/env.validation';
import { applyLocalDefaults, LocalDefaults } from './config/local-defaults';

async function bootstrap(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  // Until the config is validated, log from the raw environment (so a config error in production
  // is already a JSON line, and embedded PostgreSQL chatter only shows with LOG_LEVEL=debug).
  Logger.overrideLogger(
    createLogger({
      log: {
        level: /^(debug|verbose)$/.test(process.env.LOG_LEVEL ?? '') ? 'debug' : 'info',
        json:
          process.env.LOG_FORMAT === 'json' ||
          (process.env.NODE_ENV === 'production' && process.env.LOG_FORMAT !== 'pretty'),
      },
    }),
  );
  const bootLogger = new Logger('Bootstrap');
  const local = await applyLocalDefaults(bootLogger);
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv();
  } catch (error) {
    await local.embedded?.stop();
    throw error;
  }

  const logger = createLogger(config);
  Logger.overrideLogger(logger);
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger });
  configureApp(app);
  await app.listen(config.http.port, config.http.host);

  const base = `http://localhost:${config.http.port}`;
  bootLogger.log(`Task API listening on ${base} (docs: ${base}/docs)`);
  if (local.devSecret) {
    bootLogger.log(
      'No token source configured: accepting HS256 tokens signed with a generated local secret ' +
        '(.data/dev-secret). Get a token for a test user with `npm run token -- alice`, then ' +
        `call: curl -H "Authorization: Bearer <token>" ${base}/api/tasks`,
    );
  }
  handleShutdown(app, local, config.shutdownTimeoutMs);
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the pool, stop the
 * embedded database, exit 0. A request that hangs longer than the timeout is cut off.
 */
function handleShutdown(app: NestExpressApplication, local: LocalDefaults, timeoutMs: number) {
  const logger = new Logger('Shutdown');
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining requests and closing`);
    setTimeout(() => {
      logger.error(`Still busy after ${timeoutMs} ms: exiting anyway`);
      process.exit(1);
    }, timeoutMs).unref();
    try {
      await app.close();
      await local.embedded?.stop();
      logger.log('Stopped cleanly');
      process.exit(0);
    } catch (error) {
      logger.error(`Shutdown failed: ${error instanceof Error ? error.name : 'unknown error'}`);
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s) => void stop(s));
}

bootstrap().catch((error: unknown) => {
  // Configuration problems get their own message (it names the variables, never their values).
  const message =
    error instanceof InvalidEnvironmentError
      ? error.message
      : `Start-up failed: ${error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error'}`;
  new Logger('Bootstrap').fatal(message);
  process.exit(1);
});

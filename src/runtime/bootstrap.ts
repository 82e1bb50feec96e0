import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cluster, { Worker } from 'node:cluster';
import { HttpDrain } from '../common/http-drain';
import { createLogger } from '../common/logging';
import { useDevelopmentSecret } from '../auth/development-secret';
import { Config, loadConfig, loadEnvFile } from '../config/config.module';
import { earlyLogConfig } from '../config/configuration';
import { InvalidEnvironmentError } from '../config/env.validation';
import { startDevelopmentDatabase } from '../database/development-database';
import type { EmbeddedPostgres } from '../database/embedded-postgres';
import { AWAIT_PRIMARY, goAhead, isShutdownStep, ShutdownStep } from './cluster-handoff';
import { superviseWorkers } from './cluster-primary';
import { Shutdown } from './shutdown';
import { applyV8Tuning } from './v8-tuning';

/** What a zero-configuration start set up (see startDevelopmentDatabase, useDevelopmentSecret). */
export interface LocalDefaults {
  embedded?: EmbeddedPostgres;
  /** Set when this start uses the generated local HS256 secret. */
  devSecret: boolean;
}

/** The validated configuration, with the V8 tuning as it says (`.env` may have changed it). */
async function configured(): Promise<Config> {
  const config = await loadConfig();
  applyV8Tuning(config.app.frameworkTuning.has('v8-no-pretenuring'));
  return config;
}

/**
 * One process (WORKERS=1, the default) or a primary that prepares everything once (embedded
 * database, migrations) and runs WORKERS processes sharing the port (node:cluster). `early` are
 * the workers `main.ts` forked before this module loaded: they wait for the primary's go-ahead.
 */
export async function bootstrap(early: Worker[]): Promise<void> {
  // Until the config is validated, log from the raw environment (so LOG_LEVEL=warn is quiet, and
  // embedded PostgreSQL's chatter only shows with LOG_LEVEL=debug).
  await loadEnvFile();
  Logger.overrideLogger(createLogger(earlyLogConfig()));
  if (cluster.isWorker) {
    const app = loadApp(); // meanwhile the primary may still be preparing
    if (process.env[AWAIT_PRIMARY]) Object.assign(process.env, await goAhead());
    await serve(await configured(), await app);
    return;
  }

  const bootLogger = new Logger('Bootstrap');
  let local: LocalDefaults | undefined;
  let config: Config;
  try {
    local = {
      embedded: await startDevelopmentDatabase(bootLogger),
      devSecret: useDevelopmentSecret(),
    };
    config = await configured();
    // Before any pool opens (in this process or the workers): wait for a database that is still
    // booting, and migrate under a lock that lets any number of processes start at once.
    if (config.database.migrationsRun) {
      const { runMigrations } = await import('../database/migrate.js');
      await runMigrations(config.database.migrationsUrl);
    } else {
      const { waitForDatabase } = await import('../database/wait-for-database.js');
      await waitForDatabase(config.database.url);
    }
  } catch (error) {
    for (const worker of early) worker.kill();
    await local?.embedded?.stop();
    throw error;
  }

  if (config.app.workers <= 1) {
    await serve(config, await loadApp(), local);
  } else {
    await superviseWorkers(config, local, early);
  }
  const base = `http://localhost:${config.http.port}`;
  bootLogger.log(`Task API listening on ${base} (docs: ${base}/docs)`);
  if (local.devSecret) {
    bootLogger.log(
      'No token source configured: accepting HS256 tokens signed with a generated local secret ' +
        '(.data/dev-secret). Get a token for a test user with `npm run token -- alice`, then ' +
        `call: curl -H "Authorization: Bearer <token>" ${base}/api/tasks`,
    );
  }
}

/**
 * Nest, TypeORM and the app's modules: loaded here rather than at the top, because a cluster
 * primary never builds the app, and loading them (~1 s, most of the start-up) can overlap the
 * primary's preparation.
 */
function loadApp() {
  return Promise.all([
    import('@nestjs/core'),
    import('../app.module.js'),
    import('../app.setup.js'),
    import('../common/app-express.adapter.js'),
  ]);
}

/**
 * Builds the app and listens. SIGTERM/SIGINT then turn readiness to 503, wait SHUTDOWN_DELAY_MS
 * (serving as usual), drain the HTTP server ({@link HttpDrain}: stop accepting, answer what
 * arrives on open sockets with `Connection: close`), close the pool and exit 0.
 */
async function serve(
  config: Config,
  [{ NestFactory }, { AppModule }, { configureApp }, { AppExpressAdapter }]: Awaited<
    ReturnType<typeof loadApp>
  >,
  local?: LocalDefaults,
): Promise<void> {
  const logger = createLogger(config.log);
  Logger.overrideLogger(logger);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(),
    new AppExpressAdapter(config.app.frameworkTuning),
    {
      logger,
      bodyParser: false, // configureApp() installs the JSON-only parser
    },
  );
  configureApp(app);
  await app.listen(config.http.port, config.http.host);
  const drain = app.get(HttpDrain);
  const shutdown = new Shutdown(config.app.shutdownTimeoutMs);
  const stop = async (logger: Logger, coordination?: WorkerStop) => {
    drain.begin();
    const delayMs = config.app.shutdownDelayMs;
    if (delayMs > 0) {
      logger.log(`Readiness is 503; serving ${delayMs} ms more before draining`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    drain.stopAccepting();
    logger.log(`Readiness is 503, not accepting; draining ${drain.openSockets} connection(s)`);
    if (coordination) {
      coordination.stoppedAccepting();
      await coordination.closeAllowed;
    }
    const { closedResponses, quietSocketsClosed } = await drain.close();
    logger.log(
      `HTTP drained: ${closedResponses} answer(s) sent with Connection: close, ` +
        `${quietSocketsClosed} quiet connection(s) closed`,
    );
    await app.close(); // the pool, then Nest's shutdown hooks
    await local?.embedded?.stop();
  };

  if (!cluster.isWorker) {
    shutdown.onSignals(['SIGTERM', 'SIGINT'], (logger) => stop(logger));
    return;
  }
  // A worker stops when its primary says so, in two steps (see HttpDrain.stopAccepting). A
  // terminal's Ctrl-C reaches the primary too, which coordinates; a SIGTERM sent to this worker
  // alone stops it on its own.
  process.on('SIGINT', () => undefined);
  shutdown.onSignals(['SIGTERM'], (logger) => stop(logger));
  let allowClose!: () => void;
  const closeAllowed = new Promise<void>((resolve) => (allowClose = resolve));
  const stoppedAccepting = () =>
    process.send?.({ type: 'shutdown', step: 'stopped-accepting' } satisfies ShutdownStep);
  process.on('message', (message) => {
    if (isShutdownStep(message, 'close')) allowClose();
    if (isShutdownStep(message, 'stop-accepting')) {
      shutdown.run('Primary asked', (logger) => stop(logger, { stoppedAccepting, closeAllowed }));
    }
  });
}

/** How a worker's stop waits for the other workers (see superviseWorkers). */
interface WorkerStop {
  stoppedAccepting(): void;
  closeAllowed: Promise<void>;
}

/** The last word of a start that failed: configuration errors name the variables, never values. */
export function startFailed(error: unknown): never {
  const message =
    error instanceof InvalidEnvironmentError
      ? error.message
      : `Start-up failed: ${error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error'}`;
  new Logger('Bootstrap').fatal(message);
  process.exit(1);
}

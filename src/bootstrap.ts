import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cluster, { Worker } from 'node:cluster';
import { createLogger } from './common/logging';
import { AppConfig } from './config/app-config';
import { InvalidEnvironmentError } from './config/env.validation';
import { applyLocalDefaults, LocalDefaults } from './config/local-defaults';
import { AWAIT_PRIMARY, GoAhead, goAhead } from './cluster-handoff';

/**
 * One process (WORKERS=1, the default) or a primary that prepares everything once (embedded
 * database, migrations) and runs WORKERS processes sharing the port (node:cluster). `early` are
 * the workers `main.ts` forked before this module loaded: they wait for the primary's go-ahead.
 */
export async function bootstrap(early: Worker[]): Promise<void> {
  // Until the config is validated, log from the raw environment (so LOG_LEVEL=warn is quiet, and
  // embedded PostgreSQL's chatter only shows with LOG_LEVEL=debug).
  Logger.overrideLogger(createLogger({ log: AppConfig.earlyLog() }));
  if (cluster.isWorker) {
    const app = loadApp(); // meanwhile the primary may still be preparing
    if (process.env[AWAIT_PRIMARY]) Object.assign(process.env, await goAhead());
    await serve(AppConfig.fromEnv(), await app);
    return;
  }

  const bootLogger = new Logger('Bootstrap');
  let local: LocalDefaults | undefined;
  let config: AppConfig;
  try {
    local = await applyLocalDefaults(bootLogger);
    config = AppConfig.fromEnv();
    if (config.workers > 1 && config.database.migrationsRun) {
      // Migrations once, in the primary, before any worker opens a pool.
      const { runMigrations } = await import('./database/migrate.js');
      await runMigrations(config.database.url);
    }
  } catch (error) {
    for (const worker of early) worker.kill();
    await local?.embedded?.stop();
    throw error;
  }

  if (config.workers <= 1) {
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
    import('./app.module.js'),
    import('./app.setup.js'),
    import('./common/app-express.adapter.js'),
  ]);
}

/** Builds the app and listens; SIGTERM/SIGINT then drain it (see {@link onShutdown}). */
async function serve(
  config: AppConfig,
  [{ NestFactory }, { AppModule }, { configureApp }, { AppExpressAdapter }]: Awaited<
    ReturnType<typeof loadApp>
  >,
  local?: LocalDefaults,
): Promise<void> {
  const logger = createLogger(config);
  Logger.overrideLogger(logger);
  const app = await NestFactory.create<NestExpressApplication>(AppModule, new AppExpressAdapter(), {
    logger,
    bodyParser: false, // configureApp() installs the JSON-only parser
  });
  configureApp(app);
  await app.listen(config.http.port, config.http.host);
  onShutdown(config.shutdownTimeoutMs, async () => {
    await app.close();
    await local?.embedded?.stop();
  });
}

/**
 * Starts the workers (migrations already done): releases the early ones and forks the rest,
 * replaces one that dies unexpectedly, and on SIGTERM/SIGINT asks each to drain, then stops the
 * embedded database once all have exited.
 */
async function superviseWorkers(
  config: AppConfig,
  local: LocalDefaults,
  early: Worker[],
): Promise<void> {
  const logger = new Logger('Cluster');
  let stopping = false;
  const env = { ...process.env, DATABASE_MIGRATIONS_RUN: 'false' } as Record<string, string>;
  delete env[AWAIT_PRIMARY];
  const fork = () => cluster.fork(env);
  const start = (index: number): Worker => {
    const worker = early[index];
    if (!worker || worker.isDead()) return fork();
    worker.send({ type: 'go', env } satisfies GoAhead);
    return worker;
  };

  cluster.on('exit', (worker: Worker, code, signal) => {
    if (stopping) return;
    logger.error(`Worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    setTimeout(fork, 1000).unref();
  });
  const online = Array.from({ length: config.workers }, (_, index) => {
    const worker = start(index);
    return new Promise<void>((resolve, reject) => {
      worker.once('listening', () => resolve());
      worker.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
    });
  });
  await Promise.all(online);
  logger.log(`${config.workers} workers share port ${config.http.port}`);

  onShutdown(config.shutdownTimeoutMs, async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    await local.embedded?.stop();
  });
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the pool, stop the
 * embedded database, exit 0. A request that hangs longer than the timeout is cut off.
 */
function onShutdown(timeoutMs: number, close: () => Promise<void>): void {
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
      await close();
      logger.log('Stopped cleanly');
      process.exit(0);
    } catch (error) {
      logger.error(`Shutdown failed: ${error instanceof Error ? error.name : 'unknown error'}`);
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s) => void stop(s));
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

import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cluster, { Worker } from 'node:cluster';
import { HttpDrain } from './common/http-drain';
import { createLogger } from './common/logging';
import { useDevelopmentSecret } from './auth/development-secret';
import { Config, loadConfig, loadEnvFile } from './config/config.module';
import { earlyLogConfig } from './config/configuration';
import { InvalidEnvironmentError } from './config/env.validation';
import { startDevelopmentDatabase } from './database/development-database';
import type { EmbeddedPostgres } from './database/embedded-postgres';
import { AWAIT_PRIMARY, GoAhead, goAhead, isShutdownStep, ShutdownStep } from './cluster-handoff';

/**
 * One process (WORKERS=1, the default) or a primary that prepares everything once (embedded
 * database, migrations) and runs WORKERS processes sharing the port (node:cluster). `early` are
 * the workers `main.ts` forked before this module loaded: they wait for the primary's go-ahead.
 */
/** What a zero-configuration start set up (see startDevelopmentDatabase, useDevelopmentSecret). */
interface LocalDefaults {
  embedded?: EmbeddedPostgres;
  /** Set when this start uses the generated local HS256 secret. */
  devSecret: boolean;
}

export async function bootstrap(early: Worker[]): Promise<void> {
  // Until the config is validated, log from the raw environment (so LOG_LEVEL=warn is quiet, and
  // embedded PostgreSQL's chatter only shows with LOG_LEVEL=debug).
  await loadEnvFile();
  Logger.overrideLogger(createLogger(earlyLogConfig()));
  if (cluster.isWorker) {
    const app = loadApp(); // meanwhile the primary may still be preparing
    if (process.env[AWAIT_PRIMARY]) Object.assign(process.env, await goAhead());
    await serve(await loadConfig(), await app);
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
    config = await loadConfig();
    // Before any pool opens (in this process or the workers): wait for a database that is still
    // booting, and migrate under a lock that lets any number of processes start at once.
    if (config.database.migrationsRun) {
      const { runMigrations } = await import('./database/migrate.js');
      await runMigrations(config.database.migrationsUrl);
    } else {
      const { waitForDatabase } = await import('./database/wait-for-database.js');
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
    import('./app.module.js'),
    import('./app.setup.js'),
    import('./common/app-express.adapter.js'),
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
    new AppExpressAdapter(),
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

/**
 * Starts the workers (migrations already done): releases the early ones and forks the rest,
 * replaces one that dies unexpectedly. On SIGTERM/SIGINT it has every worker stop accepting, then
 * lets them drain their sockets; once all have exited it stops the embedded database, and exits 0
 * if they all did.
 */
async function superviseWorkers(
  config: Config,
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
  const listening = new Set<Worker>();
  cluster.on('listening', (worker: Worker) => listening.add(worker));

  // Before the workers are online: a SIGTERM during start-up must not kill the primary (Node's
  // default action) while the first workers already serve. A little longer than the workers' own
  // limit, so their exit codes arrive first.
  new Shutdown(config.app.shutdownTimeoutMs + PRIMARY_MARGIN_MS).onSignals(
    ['SIGTERM', 'SIGINT'],
    async (logger) => {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter(
        (w): w is Worker => !!w && !w.isDead(),
      );
      // Those still starting have served nothing and may be listening for no message yet.
      const serving = workers.filter((worker) => listening.has(worker) && worker.isConnected());
      for (const worker of workers) if (!serving.includes(worker)) worker.process.kill('SIGKILL');
      const codes = serving.map(
        (worker) =>
          new Promise<number | null>((resolve) =>
            worker.once('exit', (code, signal) => resolve(signal ? null : code)),
          ),
      );
      // Every worker stops accepting before any closes a socket (see HttpDrain.stopAccepting).
      await Promise.all(
        serving.map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.on('message', (message) => {
                if (isShutdownStep(message, 'stopped-accepting')) resolve();
              });
              worker.once('exit', () => resolve());
              tell(worker, 'stop-accepting');
            }),
        ),
      );
      for (const worker of serving) tell(worker, 'close');
      const exitCodes = await Promise.all(codes);
      await local.embedded?.stop();
      const failed = exitCodes.filter((code) => code !== 0).length;
      if (failed === 0) return 0;
      logger.error(`${failed} of ${exitCodes.length} worker(s) did not stop cleanly`);
      return 1;
    },
  );

  const online = Array.from({ length: config.app.workers }, (_, index) => {
    const worker = start(index);
    return new Promise<void>((resolve, reject) => {
      worker.once('listening', () => resolve());
      worker.once('exit', (code) =>
        stopping ? resolve() : reject(new Error(`worker exited with code ${code}`)),
      );
    });
  });
  await Promise.all(online);
  if (!stopping) logger.log(`${config.app.workers} workers share port ${config.http.port}`);
}

/** Sends a shutdown step; a worker that died meanwhile is reported by its exit, not here. */
function tell(worker: Worker, step: ShutdownStep['step']): void {
  if (!worker.isConnected()) return;
  worker.send({ type: 'shutdown', step } satisfies ShutdownStep, (error: Error | null) => {
    if (error) new Logger('Cluster').warn(`Worker ${worker.process.pid} missed "${step}"`);
  });
}

/** How much longer than SHUTDOWN_TIMEOUT_MS a cluster primary waits for its workers. */
const PRIMARY_MARGIN_MS = 1000;

/**
 * Runs a stop once (later triggers are ignored) and exits with its code: 0 unless it returns
 * another. Only if it takes longer than `timeoutMs` does the process exit 1 anyway, cutting off
 * whatever is still running (and, in a cluster primary, killing the workers still alive).
 */
class Shutdown {
  private readonly logger = new Logger('Shutdown');
  private started = false;

  constructor(private readonly timeoutMs: number) {}

  onSignals(signals: NodeJS.Signals[], close: (logger: Logger) => Promise<number | void>): void {
    for (const signal of signals) process.on(signal, () => this.run(`${signal} received`, close));
  }

  run(reason: string, close: (logger: Logger) => Promise<number | void>): void {
    if (this.started) return;
    this.started = true;
    const started = Date.now();
    this.logger.log(`${reason}: stopping (at most ${this.timeoutMs} ms)`);
    setTimeout(() => {
      this.logger.error(`Still busy after ${this.timeoutMs} ms: exiting anyway`);
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, this.timeoutMs).unref();
    close(this.logger).then(
      (code) => {
        const took = Date.now() - started;
        this.logger.log(`Stopped ${code ? 'with errors' : 'cleanly'} in ${took} ms`);
        process.exit(code ?? 0);
      },
      (error: unknown) => {
        const name = error instanceof Error ? error.name : 'unknown error';
        this.logger.error(`Shutdown failed: ${name}`);
        process.exit(1);
      },
    );
  }
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

import { Logger } from '@nestjs/common';
import cluster, { Worker } from 'node:cluster';
import type { Config } from '../config/config.module';
import type { LocalDefaults } from './bootstrap';
import { AWAIT_PRIMARY, GoAhead, isShutdownStep, ShutdownStep } from './cluster-handoff';
import { Shutdown } from './shutdown';

/**
 * Starts the workers (migrations already done): releases the early ones and forks the rest,
 * replaces one that dies unexpectedly. On SIGTERM/SIGINT it has every worker stop accepting, then
 * lets them drain their sockets; once all have exited it stops the embedded database, and exits 0
 * if they all did.
 */
export async function superviseWorkers(
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

import cluster, { Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { AWAIT_PRIMARY } from './cluster-handoff';

/**
 * The entry point. With WORKERS > 1, the cluster primary forks its workers before it loads
 * anything else: they load Nest and the app (most of the start-up time) while the primary
 * validates the configuration, starts an embedded database if it has to and runs the migrations,
 * and they wait for its go-ahead (with the environment it settled) before they connect. Only a
 * WORKERS the configuration will accept as 2–64 forks early (the same count bootstrap() then
 * uses); anything else forks nothing here, and bootstrap() reports or handles it.
 */
if (existsSync('.env')) process.loadEnvFile('.env');

const requested = /^\d+$/.test(process.env.WORKERS ?? '') ? Number(process.env.WORKERS) : 1;
const early: Worker[] =
  cluster.isPrimary && requested > 1 && requested <= 64
    ? Array.from({ length: requested }, () =>
        cluster.fork({ ...process.env, [AWAIT_PRIMARY]: '1' }),
      )
    : [];

import('./bootstrap.js')
  .then(({ bootstrap, startFailed }) => bootstrap(early).catch(startFailed))
  .catch((error: unknown) => {
    for (const worker of early) worker.kill();
    console.error(`Start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });

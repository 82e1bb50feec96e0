import { randomBytes } from 'node:crypto';
import { createServer, Server, Socket, connect } from 'node:net';
import { Client } from 'pg';
import { migrations } from '../src/database/data-source.options';
import { freePort } from '../src/database/embedded-postgres';
import { runMigrations } from '../src/database/migrate';
import { buildIfStale, startBuiltApi } from './support/built-api';

/** The e2e server's URL with another database name (or port). */
function urlFor(database: string, port?: number): string {
  const url = new URL(process.env.DATABASE_URL as string);
  url.pathname = `/${database}`;
  if (port) url.port = String(port);
  return url.toString();
}

/**
 * A TCP proxy to the e2e PostgreSQL on `port`, as a database that comes up late. With `drop`, the
 * first `drop` connections are closed at once, as a server that is still starting would.
 */
function proxyOn(port: number, drop = 0): Promise<Server> {
  const target = new URL(process.env.DATABASE_URL as string);
  const sockets = new Set<Socket>();
  let dropped = 0;
  const server = createServer((client) => {
    if (dropped < drop) {
      dropped++;
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('close', () => sockets.forEach((socket) => socket.destroy()));
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

describe('Migrations from several processes', () => {
  const admin = new Client({ connectionString: process.env.DATABASE_URL });
  const created: string[] = [];

  const freshDatabase = async (prefix: string) => {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    created.push(name);
    return name;
  };
  const appliedIn = async (database: string) => {
    const client = new Client({ connectionString: urlFor(database) });
    await client.connect();
    try {
      const rows = await client.query<{ name: string }>(
        'SELECT name FROM typeorm_migrations ORDER BY id',
      );
      const table = await client.query("SELECT to_regclass('public.task') AS task");
      return { names: rows.rows.map((row) => row.name), task: table.rows[0].task as unknown };
    } finally {
      await client.end();
    }
  };

  beforeAll(() => admin.connect());
  afterAll(async () => {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('should let 4 concurrent runners succeed and apply each migration once', async () => {
    const database = await freshDatabase('mig_race');
    const url = urlFor(database);

    const results = await Promise.allSettled(Array.from({ length: 4 }, () => runMigrations(url)));

    expect(results.map((result) => result.status)).toEqual(Array(4).fill('fulfilled'));
    const applied = results.map((result) => (result as PromiseFulfilledResult<string[]>).value);
    const names = migrations.map((migration) => migration.name);
    // One runner applied everything; the others waited for its lock and found nothing pending.
    expect(applied.filter((list) => list.length > 0)).toEqual([names]);
    expect(await appliedIn(database)).toEqual({ names, task: 'task' });
  });

  it('should wait for a database that is not up yet, logging one line per retry', async () => {
    const database = await freshDatabase('mig_late');
    const port = await freePort();
    const lines: string[] = [];
    let proxy: Server | undefined;

    const run = runMigrations(urlFor(database, port), {
      firstDelayMs: 100,
      maxDelayMs: 200,
      log: (line) => lines.push(line),
    });
    const opened = new Promise<void>((resolve) =>
      setTimeout(() => void proxyOn(port).then((server) => resolve(void (proxy = server))), 600),
    );
    try {
      await expect(run).resolves.toEqual(migrations.map((migration) => migration.name));
    } finally {
      await opened;
      proxy?.close();
    }
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatch(/^Database not reachable \(ECONNREFUSED\): attempt \d+\/30 failed/);
      expect(line).not.toMatch(/\n|postgres|password|127\.0\.0\.1/);
    }
    expect((await appliedIn(database)).task).toBe('task');
  });
});

describe('Start-up against a database that comes up late (built API)', () => {
  const admin = new Client({ connectionString: process.env.DATABASE_URL });
  const created: string[] = [];
  beforeAll(async () => {
    buildIfStale();
    await admin.connect();
  }, 180000);
  afterAll(async () => {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  // The database drops the first connections: every mode retries, then serves.
  it.each([
    ['1 process, migrations at start', '1', 'true'],
    ['2 workers, migrations at start', '2', 'true'],
    ['1 process, migrations run elsewhere', '1', 'false'],
  ])(
    'should wait and then serve (%s)',
    async (_label, workers, migrationsRun) => {
      const database = `start_late_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${database}`);
      created.push(database);
      if (migrationsRun === 'false') await runMigrations(urlFor(database));
      const port = await freePort();
      const proxy = await proxyOn(port, 3);

      const api = await startBuiltApi({
        DATABASE_URL: urlFor(database, port),
        WORKERS: workers,
        DATABASE_MIGRATIONS_RUN: migrationsRun,
      }).catch((error: unknown) => {
        proxy.close();
        throw error;
      });
      try {
        // A dropped connection reads as a reset or a lost connection, depending on timing.
        expect(api.output()).toMatch(
          /Database not reachable \((ECONNRESET|connection lost)\): attempt 1\/30 failed/,
        );
        const ready = await fetch(`${api.base}/health/ready`);
        expect(ready.status).toBe(200);
        expect((await appliedTo(database)).length).toBe(migrations.length);
      } finally {
        api.child.kill('SIGTERM');
        await api.exited;
        proxy.close();
      }
    },
    90000,
  );

  async function appliedTo(database: string): Promise<string[]> {
    const client = new Client({ connectionString: urlFor(database) });
    await client.connect();
    try {
      return (await client.query<{ name: string }>('SELECT name FROM typeorm_migrations')).rows.map(
        (row) => row.name,
      );
    } finally {
      await client.end();
    }
  }
});

/**
 * The stand-ins bench/drill.mjs puts around the API: a TCP proxy that can delay every packet, a
 * JWKS server that can be taken away and come back with rotated keys, and a PgBouncer in
 * transaction mode. All on 127.0.0.1, all stopped by their own close().
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const listen = (server, port = 0) =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });

/**
 * A TCP proxy to 127.0.0.1:`targetPort`. While `delayMs` > 0 every chunk, in each direction, is
 * held that long before it is passed on (in order): each round trip gets 2 × delayMs slower.
 */
export async function startDelayProxy(targetPort) {
  const sockets = new Set();
  const proxy = { delayMs: 0, port: 0 };
  const pipe = (from, to) => {
    let last = 0; // when the previous chunk of this direction goes out: keep the order
    from.on('data', (chunk) => {
      if (proxy.delayMs <= 0 && last <= Date.now()) {
        to.write(chunk);
        return;
      }
      const at = Math.max(Date.now() + proxy.delayMs, last);
      last = at;
      setTimeout(() => !to.destroyed && to.write(chunk), at - Date.now());
    });
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  proxy.port = await listen(server);
  proxy.close = () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return proxy;
}

/**
 * Better Auth's JWKS endpoint (`/api/auth/jwks`) with Ed25519 keys. `sign(sub, key)` mints a
 * token like Better Auth's jwt plugin (EdDSA, kid, iss = aud = the base URL, 15 minutes).
 * `blackhole()`: connections are accepted and never answered; `restore()` answers again;
 * `newKey()` makes a key that is not served yet; `rotate(key)` serves it first, the old one still
 * listed (as Better Auth keeps the previous key for tokens already out).
 */
export async function startJwksServer() {
  const makeKey = async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const kid = randomUUID();
    return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA' } };
  };
  const state = { keys: [await makeKey()], blackholed: false, fetches: 0, held: 0 };
  const held = new Set();
  const server = createHttpServer((req, res) => {
    if (state.blackholed) {
      state.held++;
      held.add(res.socket); // never answered; destroyed on restore() or close()
      return;
    }
    if (req.url !== '/api/auth/jwks') {
      res.writeHead(404).end();
      return;
    }
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys.map((key) => key.jwk) }));
  });
  const port = await listen(server);
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    state,
    current: () => state.keys[0],
    previous: () => state.keys[1],
    sign: (sub, key = state.keys[0]) =>
      new SignJWT({ jti: randomUUID() })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
        .setSubject(sub)
        .setIssuer(baseUrl)
        .setAudience(baseUrl)
        .setIssuedAt()
        .setExpirationTime('15m')
        .sign(key.privateKey),
    blackhole() {
      state.blackholed = true;
      server.closeIdleConnections(); // kept-alive sockets would otherwise still answer
    },
    restore() {
      state.blackholed = false;
      for (const socket of held) socket.destroy();
      held.clear();
    },
    newKey: makeKey,
    rotate(key) {
      state.keys.unshift(key);
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of held) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const PGBOUNCER = '/usr/sbin/pgbouncer';

/**
 * Debian's PgBouncer in transaction mode in front of `cluster` (bench/lib/postgres.mjs), on a
 * free port, with its own ini and userlist in a temp folder. It refuses to run as root: as root it
 * runs as `postgres`, like the database. Resolves { port, url, logFile, close() }.
 */
export async function startPgBouncer(cluster, { freePort, poolSize = 20 }) {
  if (!existsSync(PGBOUNCER)) {
    throw new Error(
      `${PGBOUNCER} not found: install Debian's pgbouncer (apt-get install pgbouncer)`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'todo-api-drill-pgbouncer-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const ids =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
          gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
        }
      : {};
  const logFile = join(dir, 'pgbouncer.log');
  const ini = join(dir, 'pgbouncer.ini');
  const userlist = join(dir, 'userlist.txt');
  writeFileSync(
    ini,
    [
      '[databases]',
      `${cluster.database} = host=127.0.0.1 port=${cluster.port} dbname=${cluster.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // What Neon's and most managed poolers do: a server connection per transaction.
      'pool_mode = transaction',
      'auth_type = scram-sha-256',
      `auth_file = ${userlist}`,
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${logFile}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(userlist, `"${cluster.user}" "${cluster.password}"\n`, { mode: 0o600 });
  if (ids.uid !== undefined) {
    for (const file of [dir, ini, userlist]) chownSync(file, ids.uid, ids.gid);
  }
  chmodSync(dir, 0o700);
  const child = spawn(PGBOUNCER, [ini], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
  process.once('exit', () => child.exitCode === null && child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start (exit ${child.exitCode}): ${stderr.slice(0, 500)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const password = encodeURIComponent(cluster.password);
  return {
    port,
    url: `postgresql://${cluster.user}:${password}@127.0.0.1:${port}/${cluster.database}`,
    dir,
    pid: child.pid,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

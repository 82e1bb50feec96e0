import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { Pool } from 'pg';
import { freePort } from '../../src/database/embedded-postgres';

export interface BetterAuthServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A real Better Auth instance (memory adapter, `jwt` plugin with its default EdDSA keys) served
 * over HTTP on loopback, as a Next.js frontend's auth would be. Tests sign users up and fetch
 * tokens through its public endpoints; `/test/sign-jwt` (this harness only) signs arbitrary
 * payloads with the same keys, to make tokens the API must refuse (expired, wrong iss/aud).
 */
export async function startBetterAuthServer(): Promise<BetterAuthServer> {
  // better-auth ships only ES modules; this runs in jest's global setup, under Node's own loader.
  const { betterAuth } = await import('better-auth');
  const { jwt } = await import('better-auth/plugins');
  const { memoryAdapter } = await import('better-auth/adapters/memory');
  const { toNodeHandler } = await import('better-auth/node');

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const auth = betterAuth({
    baseURL: url,
    secret: randomBytes(32).toString('base64url'),
    database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
    emailAndPassword: { enabled: true },
    plugins: [jwt()],
    telemetry: { enabled: false },
    logger: { disabled: true },
  });
  const handler = toNodeHandler(auth);

  const server: Server = createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/test/sign-jwt') {
      readJson(request)
        .then((payload) => auth.api.signJWT({ body: { payload } }))
        .then((result) => {
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify(result));
        })
        .catch(() => {
          response.statusCode = 500;
          response.end();
        });
      return;
    }
    void handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
}

export interface SessionBetterAuthServer extends BetterAuthServer {
  /** This harness's own switchboard: stop and start the Better Auth listener, count its calls. */
  controlUrl: string;
}

/**
 * A second real Better Auth, as a frontend that shares its sessions runs it: the `bearer` plugin
 * (session tokens as Bearer, `set-auth-token`), the `jwt` plugin, and Better Auth's own Kysely
 * adapter on the test PostgreSQL through a `pg` Pool, its tables in a schema of their own
 * (`better_auth`) created by its own migrations (`getMigrations` of `better-auth/db/migration`).
 * It signs cookies with `secret`, the API's BETTER_AUTH_SECRET.
 *
 * better-auth is ESM only and jest's workers cannot load it, so it runs here, in the global
 * setup's process; a suite stops and starts its listener through `controlUrl` (POST /stop,
 * POST /start: the port then refuses connections, as a stopped server's does) and reads how many
 * get-session calls reached it (GET /calls).
 */
export async function startSessionBetterAuthServer({
  databaseUrl,
  secret,
  schema,
}: {
  databaseUrl: string;
  secret: string;
  schema: string;
}): Promise<SessionBetterAuthServer> {
  const { betterAuth } = await import('better-auth');
  const { bearer, jwt } = await import('better-auth/plugins');
  const { getMigrations } = await import('better-auth/db/migration');
  const { toNodeHandler } = await import('better-auth/node');

  const admin = new Pool({ connectionString: databaseUrl, max: 1 });
  await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await admin.end();
  const pool = new Pool({
    connectionString: databaseUrl,
    max: 4,
    options: `-c search_path="${schema}"`,
  });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const options = {
    baseURL: url,
    secret,
    database: pool,
    emailAndPassword: { enabled: true },
    plugins: [bearer(), jwt()],
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { disabled: true },
  };
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const handler = toNodeHandler(betterAuth(options));

  let getSessionCalls = 0;
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/api/auth/get-session')) getSessionCalls++;
    void handler(request, response);
  });
  const listen = () =>
    new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  await listen();

  const control = createServer((request, response) => {
    const answer = (body: object) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(body));
    };
    if (request.method === 'POST' && request.url === '/stop') {
      void stop().then(() => answer({ listening: false }));
    } else if (request.method === 'POST' && request.url === '/start') {
      void (server.listening ? Promise.resolve() : listen()).then(() =>
        answer({ listening: true }),
      );
    } else if (request.method === 'GET' && request.url === '/calls') {
      answer({ getSession: getSessionCalls });
    } else {
      response.statusCode = 404;
      response.end();
    }
  });
  const controlPort = await freePort();
  await new Promise<void>((resolve) => control.listen(controlPort, '127.0.0.1', resolve));

  return {
    url,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    close: async () => {
      await stop();
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
      await pool.end();
    },
  };
}

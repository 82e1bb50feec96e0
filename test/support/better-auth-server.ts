import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
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

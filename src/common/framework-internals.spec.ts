import { ConsoleLogger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { SkipThrottle } from '@nestjs/throttler';
import type { Express, Request, Response } from 'express';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import request from 'supertest';
import { FRAMEWORK_TUNINGS, FrameworkTuning } from '../config/framework-tuning';
import { HealthController } from '../health/health.controller';
import { AppExpressAdapter } from './app-express.adapter';
import {
  FIXED_RELIANCES,
  FRAMEWORK_INTERNALS,
  skipThrottleMetadataKey,
} from './framework-internals';
import { createLogger } from './logging';

const ROOT = join(__dirname, '../..');

/**
 * The canaries: each test pins what one reliance of framework-internals.ts assumes about a
 * framework, so an upgrade that changes it fails here, named, before it fails in production.
 */
describe('framework internals', () => {
  it('should name, for every reliance, tests that exist', () => {
    const all = { ...FRAMEWORK_INTERNALS, ...FIXED_RELIANCES };
    expect(Object.keys(FRAMEWORK_INTERNALS).sort()).toEqual([...FRAMEWORK_TUNINGS].sort());
    for (const [name, reliance] of Object.entries(all)) {
      const files = reliance.test.match(/[\w./-]+\.(?:spec|e2e-spec)\.ts/g) ?? [];
      expect([name, files.length > 0]).toEqual([name, true]);
      for (const file of files)
        expect([name, file, existsSync(join(ROOT, file))]).toEqual([name, file, true]);
    }
  });

  describe('express-prototypes', () => {
    it("should find Express's request and response prototypes built on Node's", () => {
      const app = new ExpressAdapter().getInstance<Express>();

      // The adapter's constructors run Node's on objects made with these prototypes.
      expect(Object.prototype.isPrototypeOf.call(IncomingMessage.prototype, app.request)).toBe(
        true,
      );
      expect(Object.prototype.isPrototypeOf.call(ServerResponse.prototype, app.response)).toBe(
        true,
      );
    });

    it("should find Node's IncomingMessage and ServerResponse callable on an object of ours", () => {
      // As classes, the adapter would fall back to Node's constructors and the win would be gone.
      for (const base of [IncomingMessage, ServerResponse]) {
        expect(Function.prototype.toString.call(base).startsWith('class')).toBe(false);
      }
    });

    it("should find Nest's adapter serving the server it keeps in `httpServer`", () => {
      const adapter = new ExpressAdapter();
      const server = createServer();
      (adapter as unknown as { httpServer: Server }).httpServer = server;

      expect(adapter.getHttpServer()).toBe(server);
    });

    it("should use Nest's own server when the tuning is off", async () => {
      const { server, app, prototypes } = adapterServer(new Set());

      await request(server).get('/json').expect(200);

      expect(prototypes.request).toBe(IncomingMessage.prototype);
      expect(prototypes.request).not.toBe(app.request);
    });
  });

  describe('express-reply', () => {
    it("should override Nest's ExpressAdapter.reply(response, body, statusCode)", () => {
      expect(typeof ExpressAdapter.prototype.reply).toBe('function');
      expect(ExpressAdapter.prototype.reply.length).toBe(3);
    });

    it.each([
      ['an object with non-ASCII text', { title: 'Grüße, 東京 ✓', n: 1 }, 201],
      [
        'an array of 2 KB',
        Array.from({ length: 40 }, (_, i) => ({ id: i, t: 'x'.repeat(40) })),
        200,
      ],
      ['an empty object', {}, 200],
    ])('should send %s as Express res.json would', async (_what, body, status) => {
      const tuned = adapterServer(new Set(FRAMEWORK_TUNINGS), body, status);
      const plain = adapterServer(new Set(), body, status);

      const [ours, express] = await Promise.all([
        request(tuned.server).get('/json'),
        request(plain.server).get('/json'),
      ]);

      expect(ours.status).toBe(express.status);
      expect(ours.text).toBe(express.text);
      for (const header of ['content-type', 'content-length']) {
        expect([header, ours.headers[header]]).toEqual([header, express.headers[header]]);
      }
    });
  });

  describe('v8-no-pretenuring', () => {
    it('should find the flag known to V8 and accepted on the command line', () => {
      // setFlagsFromString ignores a flag V8 no longer knows: only the list says it is there.
      const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
      expect(options).toMatch(/^\s*--allocation-site-pretenuring\b/m);

      const run = execFileSync(process.execPath, ['--no-allocation-site-pretenuring', '-p', '1'], {
        encoding: 'utf8',
      });
      expect(run.trim()).toBe('1');
    });
  });

  describe('throttler-skip-metadata', () => {
    it('should find @SkipThrottle() recording true under the one key the guard reads', () => {
      const key = skipThrottleMetadataKey();
      class Routes {
        @SkipThrottle()
        free() {}
        counted() {}
      }
      const reflector = new Reflector();

      expect(key).toBe('THROTTLER:SKIPdefault');
      expect(reflector.get(key, Routes.prototype.free)).toBe(true);
      expect(reflector.get(key, Routes.prototype.counted)).toBeUndefined();
      expect(reflector.get(key, HealthController)).toBe(true);
    });
  });

  describe('node-socket-http-message', () => {
    it("should find the response being written as the socket's `_httpMessage`", async () => {
      const seen: { same?: boolean; headersSent?: boolean } = {};
      const server = createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('begun');
        const current = (req.socket as { _httpMessage?: ServerResponse })._httpMessage;
        seen.same = current === res;
        seen.headersSent = current?.headersSent;
        res.end();
      });

      await request(server).get('/').expect(200);

      expect(seen).toEqual({ same: true, headersSent: true });
    });
  });

  describe('nest-console-logger-hooks', () => {
    const hooks = ['getJsonLogObject', 'stringifyMessage', 'formatMessage', 'printStackTrace'];

    it.each([
      ['JSON', true],
      ['pretty', false],
    ])('should find ConsoleLogger calling the hooks AppLogger overrides (%s)', (_format, json) => {
      const logger = createLogger({ level: 'info', json });
      const spies = hooks.map((hook) => {
        const inherited = (ConsoleLogger.prototype as unknown as Record<string, unknown>)[hook];
        expect([hook, typeof inherited]).toEqual([hook, 'function']);
        // Calls through to AppLogger's override, which calls ConsoleLogger's.
        return [
          hook,
          jest.spyOn(logger as unknown as Record<string, () => unknown>, hook),
        ] as const;
      });
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const writeErr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        logger.error('Failed', 'Error: boom\n    at x (y.js:1:1)', 'Ctx');
      } finally {
        write.mockRestore();
        writeErr.mockRestore();
      }

      const called = spies.filter(([, spy]) => spy.mock.calls.length > 0).map(([hook]) => hook);
      expect(called.sort()).toEqual(
        json
          ? ['getJsonLogObject', 'printStackTrace']
          : ['formatMessage', 'printStackTrace', 'stringifyMessage'],
      );
    });
  });
});

/** An adapter with the given tunings, serving `body` from GET /json, and the prototypes seen. */
function adapterServer(
  tuning: ReadonlySet<FrameworkTuning>,
  body: unknown = { ok: true },
  status = 200,
) {
  const adapter = new AppExpressAdapter(tuning);
  const app = adapter.getInstance<Express>();
  app.get('/json', (_req: Request, res: Response) => {
    adapter.reply(res, body, status);
  });
  adapter.initHttpServer({});
  const server = adapter.getHttpServer() as Server;
  const prototypes: { request?: object } = {};
  server.prependListener('request', (req: IncomingMessage) => {
    prototypes.request = Object.getPrototypeOf(req) as object;
  });
  return { server, app, prototypes };
}

import { NestApplicationOptions, StreamableFile } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { Express, Response } from 'express';
import { createServer, IncomingMessage, Server, ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { FRAMEWORK_TUNINGS, FrameworkTuning } from '../config/framework-tuning';

/**
 * Nest's Express adapter, with two changes to how a request is handled (the wire is the same):
 *
 * - **Requests and responses are built with Express's prototypes** (`initHttpServer`). Express
 *   calls `Object.setPrototypeOf(req, app.request)` on every request. On an object built by Node
 *   that gives it a new hidden class each time, so V8 allocates fresh maps per request (in the
 *   old generation) and every property access on `req`/`res` downstream meets a shape it has not
 *   seen. Built with those prototypes already, the call changes nothing and every request shares
 *   one set of shapes: measured in `docs/benchmarks.md`.
 * - **A shorter path for the common reply, a JSON object** (`reply`): serialise once, set
 *   `Content-Type` and `Content-Length`, `end`. Express's `res.json` → `res.send` would parse the
 *   `Content-Type` back to add a charset, copy bodies over 1 KB into a Buffer, and compare
 *   freshness against an ETag that it does not generate here (`etag` is off; task ETags and their
 *   304s are ours, see `respond()`). Every other reply (no body, strings, buffers, streams,
 *   1xx/204/304, a `Content-Type` the handler chose) goes through Express.
 */
export class AppExpressAdapter extends ExpressAdapter {
  /** `tuning`: which of the two changes to use (FRAMEWORK_TUNING_OFF, framework-internals.ts). */
  constructor(private readonly tuning: ReadonlySet<FrameworkTuning> = new Set(FRAMEWORK_TUNINGS)) {
    super();
  }

  override initHttpServer(options: NestApplicationOptions): void {
    // HTTPS and connection tracking are Nest's own business (and unused here): keep its server.
    if (
      !this.tuning.has('express-prototypes') ||
      options?.httpsOptions ||
      options?.forceCloseConnections
    ) {
      super.initHttpServer(options);
    } else {
      const app = this.getInstance<Express>();
      this.httpServer = createServer(
        {
          IncomingMessage: constructedWith(IncomingMessage, app.request),
          ServerResponse: constructedWith(ServerResponse, app.response),
        },
        app,
      );
    }
    answerParserErrorsInJson(this.httpServer);
  }

  override reply(response: Response, body: unknown, statusCode?: number): unknown {
    if (
      !this.tuning.has('express-reply') ||
      body === null ||
      typeof body !== 'object' ||
      body instanceof StreamableFile ||
      ArrayBuffer.isView(body) ||
      response.hasHeader('Content-Type')
    ) {
      return super.reply(response, body, statusCode);
    }
    const status = statusCode ?? response.statusCode;
    if (status < 200 || status === 204 || status === 304) {
      return super.reply(response, body, statusCode);
    }
    const json = JSON.stringify(body);
    response.statusCode = status;
    response.setHeader('Content-Type', 'application/json; charset=utf-8');
    response.setHeader('Content-Length', Buffer.byteLength(json));
    response.end(json);
    return response;
  }
}

/**
 * A constructor for Node's `base` (`IncomingMessage`, `ServerResponse`) whose instances have
 * `prototype` (Express's `app.request` or `app.response`, which inherit from `base.prototype`) as
 * their prototype from the start. Node defines both as plain functions, run here on the new
 * object. (`Reflect.construct(base, args, new.target)` would also cover classes, but V8 then
 * builds a new hidden class per object again: measured at twice the CPU per request.) Should a
 * later Node make them classes, `base` itself is returned, and Express sets the prototype as it
 * always did.
 */
function constructedWith<T extends typeof IncomingMessage | typeof ServerResponse>(
  base: T,
  prototype: object,
): T {
  if (Function.prototype.toString.call(base).startsWith('class')) return base;
  function Constructed(this: object, ...args: unknown[]): void {
    (base as unknown as (...args: unknown[]) => void).apply(this, args);
  }
  Constructed.prototype = prototype;
  return Constructed as unknown as T;
}

/** What Node's HTTP parser answers by itself, by error code (anything else is 400). */
const PARSER_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * Requests Node refuses before Express sees them (headers too large, malformed HTTP, an `Expect`
 * it cannot meet) get the same answer as every other error, a JSON `detail`, instead of Node's
 * bare status line. Then the connection is closed, as Node itself would.
 */
export function answerParserErrorsInJson(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node itself: nothing to answer on a connection the client reset, or once a response
    // on it has begun.
    if (
      error.code === 'ECONNRESET' ||
      !socket.writable ||
      (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
    ) {
      socket.destroy();
      return;
    }
    const status = PARSER_ERROR_STATUS[error.code ?? ''] ?? 400;
    const body = JSON.stringify({ detail: STATUS_CODES[status] ?? 'Bad Request' });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        'Cache-Control: no-store\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
  server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({ detail: 'Only "Expect: 100-continue" is supported' });
    response.writeHead(417, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
      Connection: 'close',
    });
    response.end(body);
  });
}

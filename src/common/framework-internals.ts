import { SkipThrottle } from '@nestjs/throttler';
import type { FrameworkTuning } from '../config/framework-tuning';

/** One place where the code leans on something a framework does not promise. */
export interface Reliance {
  /** What we rely on, and where. */
  relies: string;
  /** Why: the measured win, or what the plain path would break. */
  why: string;
  /** The test that fails when an upgrade changes what we rely on. */
  test: string;
  /** With the switch off (FRAMEWORK_TUNING_OFF), or why there is no switch. */
  off: string;
}

const CANARY = 'src/common/framework-internals.spec.ts';

/**
 * Every reliance on framework internals (Express, Nest, Node, V8, @nestjs/throttler). Read this
 * before an upgrade: the tests named here are the ones that must stay green, and a switch turns a
 * tuning off (`FRAMEWORK_TUNING_OFF=all` or a list) so the plain framework path runs meanwhile.
 */
export const FRAMEWORK_INTERNALS: Record<FrameworkTuning, Reliance> = {
  'express-prototypes': {
    relies:
      "AppExpressAdapter.initHttpServer (common/app-express.adapter.ts) builds Node's HTTP server " +
      "itself: Nest's adapter field `httpServer`, Express's `app.request`/`app.response` " +
      'inheriting from IncomingMessage/ServerResponse.prototype, those two being plain functions ' +
      '(not classes) that can run on an object made with another prototype, and Express setting ' +
      'the prototype per request (a no-op when it is already the right one).',
    why:
      'Express 5 calls Object.setPrototypeOf(req, app.request) per request, giving every request ' +
      'new hidden classes: 0.46–0.60 → 0.39–0.41 ms CPU per request, old-generation growth ' +
      '220 → 107 MB in 10 s (docs/benchmarks.md, step 11).',
    test: `${CANARY} (express-prototypes), src/common/app-express.adapter.spec.ts`,
    off: "Nest's own initHttpServer (http.createServer(app)).",
  },
  'express-reply': {
    relies:
      "AppExpressAdapter.reply overrides Nest's ExpressAdapter.reply(response, body, statusCode) " +
      'for plain JSON objects, and must send what Express res.json would (charset, length).',
    why:
      'res.json → res.send re-parses Content-Type, copies bodies over 1 KB and checks freshness: ' +
      '0.96 → 0.66 ms CPU per request, +25–50 % req/s (docs/benchmarks.md, step 7).',
    test: `${CANARY} (express-reply), test/http.e2e-spec.ts, test/framework-tuning.e2e-spec.ts`,
    off: "Nest's ExpressAdapter.reply (Express's res.json).",
  },
  'v8-no-pretenuring': {
    relies:
      'runtime/v8-tuning.ts sets the V8 flag --no-allocation-site-pretenuring at run time ' +
      '(v8.setFlagsFromString, which ignores a flag V8 no longer knows).',
    why:
      "The warm-up burst made V8 allocate request-path objects (pg's rows) in the old generation " +
      'for good: peak RSS 192–218 → 142–161 MB, 0.39–0.41 → 0.37–0.38 ms CPU per request ' +
      '(docs/benchmarks.md, step 12).',
    test: `${CANARY} (v8-no-pretenuring)`,
    off: "V8's defaults.",
  },
};

/** Reliances without a switch: each says why in `off`. */
export const FIXED_RELIANCES: Record<string, Reliance> = {
  'throttler-skip-metadata': {
    relies:
      'RateLimitGuard (rate-limit/rate-limit.guard.ts) reads what @SkipThrottle() records with ' +
      "one Reflector lookup per handler, instead of ThrottlerGuard's own loop: a boolean " +
      'metadata per throttler. The key is found by applying @SkipThrottle() to a probe ' +
      '(skipThrottleMetadataKey below), not hard-coded.',
    why: 'The guard replaces ThrottlerGuard.canActivate with a leaner path (per-user windows).',
    test: `${CANARY} (throttler-skip-metadata), test/fair-share.e2e-spec.ts`,
    off:
      'No switch: nothing internal is hard-coded. Should @SkipThrottle() stop recording one ' +
      'boolean, the probe throws at start-up and the test fails first.',
  },
  'node-socket-http-message': {
    relies:
      "answerParserErrorsInJson (common/app-express.adapter.ts) reads the socket's " +
      "`_httpMessage.headersSent`, as Node's own clientError default does, to never write an " +
      'error into a response already begun.',
    why: "Parser errors (431, 400, 408) answered in the API's JSON shape, not a bare status line.",
    test: `${CANARY} (node-socket-http-message), test/hygiene.e2e-spec.ts`,
    off:
      'No switch: should Node drop the field, the check reads undefined and only that rare case ' +
      '(a parser error while a response is being written) changes; the test says so first.',
  },
  'nest-console-logger-hooks': {
    relies:
      "AppLogger (common/logging.ts) overrides ConsoleLogger's protected getJsonLogObject, " +
      'stringifyMessage, formatMessage and printStackTrace.',
    why: 'No stack frames in any log line, and the request id on every line of a request.',
    test: `${CANARY} (nest-console-logger-hooks), src/common/logging.spec.ts`,
    off:
      'No switch: without them stacks (which can hold SQL and values) reach the logs; an ' +
      'upgrade that renames them fails the tests instead.',
  },
  'node-net-server-close': {
    relies:
      "HttpDrain (common/http-drain.ts) closes the listener with net.Server's close on the HTTP " +
      "server, skipping http.Server's closeIdleConnections().",
    why:
      'http.Server.close() resets keep-alive sockets whose next request is not read yet: under ' +
      'load every client lost one request at SIGTERM.',
    test: 'test/shutdown.e2e-spec.ts',
    off: 'No switch: the plain path loses requests at every deploy.',
  },
  'pg-pool-release': {
    relies:
      'GuardedClient (database/connection-guard.ts) turns the `release` that pg-pool assigns to ' +
      'each client it hands out into an accessor, so a connection left in a transaction, past ' +
      'the client-side timeout or after an error goes back to the pool as broken (destroyed); ' +
      "it reads pg's `getTransactionStatus()`.",
    why:
      'Without it a connection whose ROLLBACK timed out returns to the pool inside an open ' +
      'transaction, and later autocommit writes on it vanish (acknowledged writes lost).',
    test: 'test/transactions.e2e-spec.ts, test/pooler.e2e-spec.ts',
    off:
      'No switch: the plain path can lose acknowledged writes. Should pg-pool stop assigning ' +
      '`release` per checkout, the pool-level test in transactions.e2e-spec.ts fails.',
  },
  'nest-route-metadata-copy': {
    relies:
      'AlsoRoute (common/also-route.decorator.ts) registers a handler under a second verb by ' +
      "copying every reflect-metadata entry Nest's and Swagger's decorators recorded on the " +
      'handler, the prototype key and the constructor key, through reflect-metadata only.',
    why: 'PUT and PATCH share one handler body (one parameter list, one set of docs).',
    test: 'test/tasks.e2e-spec.ts, test/routes.e2e-spec.ts',
    off:
      'No switch: should Nest keep route metadata elsewhere, PUT loses its parameters and the ' +
      'PUT tests and the route walk fail; the fallback is a second handler that delegates.',
  },
};

/**
 * The metadata key under which `@SkipThrottle()` marks a handler or class as free for the
 * default throttler: found by applying the decorator to a probe.
 */
export function skipThrottleMetadataKey(): string {
  @SkipThrottle()
  class Probe {}
  const keys = Reflect.getMetadataKeys(Probe).filter(
    (key): key is string =>
      typeof key === 'string' &&
      !key.startsWith('design:') &&
      Reflect.getMetadata(key, Probe) === true,
  );
  if (keys.length !== 1) {
    throw new Error(`@SkipThrottle() recorded ${keys.length} boolean keys, expected one`);
  }
  return keys[0];
}

import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the request being served, for every line logged while serving it, wherever the line
 * comes from (the pool guard, the JWKS store, a library). From Node 24, AsyncLocalStorage rides on
 * AsyncContextFrame: about 0.3 µs a request. Before (Node 20, 22) it switches on promise hooks for
 * the whole process, and every `await` pays: measured with `npm run bench` on Node 20, the API's
 * CPU per request rose from 0.46–0.52 to 0.59–0.98 ms (mixed) and peak RSS by ~12 MB. There the
 * request's own lines (its request line, the exception filter's, the guards') still carry the id,
 * passed explicitly ({@link logAsRequest}); lines from shared parts (the pool, the JWKS store) do
 * not. The production image runs Node 24.
 */
const requestIds = new AsyncLocalStorage<string>();
export const REQUEST_CONTEXT_EVERYWHERE = Number(process.versions.node.split('.')[0]) >= 24;

/** Runs `serve` (and, from Node 24, everything it starts) as the request `id`: see AppLogger. */
export function withRequestId(id: string, serve: () => void): void {
  if (REQUEST_CONTEXT_EVERYWHERE) requestIds.run(id, serve);
  else serve();
}

/** The request id of a line logged by code that holds the request, on any Node. */
let explicitId: string | undefined;

/** Runs `work` (synchronous, logging) as the request whose response is `response`. */
export function logAsRequest<T>(response: { getHeader(name: string): unknown }, work: () => T): T {
  const id = response.getHeader('X-Request-Id');
  const saved = explicitId;
  explicitId = typeof id === 'string' ? id : undefined;
  try {
    return work();
  } finally {
    explicitId = saved;
  }
}

/** Why a request was refused, for its request line; set by whoever refused it (the auth guard). */
const refusalReasons = new WeakMap<object, string>();

/**
 * Names why the request whose response is `response` was refused (`expired`, `wrong_audience`…):
 * its request line carries it as `reason`. A short code, never a token or a value.
 */
export function setRefusalReason(response: object, reason: string): void {
  refusalReasons.set(response, reason);
}

export function refusalReasonOf(response: object): string | undefined {
  return refusalReasons.get(response);
}

function currentRequestId(): string | undefined {
  return explicitId ?? requestIds.getStore();
}

const ORDER: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const SUMMARY_MAX = 300;

/** What the logger needs (config/'s `log` namespace has this shape). */
export interface LogSettings {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'verbose';
  json: boolean;
}

/** Nest's logger at the configured level: one JSON object per line in production. */
export function createLogger(log: LogSettings): ConsoleLogger {
  const level: LogLevel = log.level === 'info' ? 'log' : log.level;
  return new AppLogger({
    json: log.json,
    colors: !log.json && process.stdout.isTTY,
    logLevels: ORDER.slice(0, ORDER.indexOf(level) + 1),
  });
}

/**
 * Nest's console logger without stack traces, and with the request id on every line logged while
 * a request is served (whoever logs: the exception filter, the pool, the rate limiter).
 *
 * Libraries log errors with their stacks (Nest's own exception handler, TypeORM's connection
 * retries): a log line gets the stack's first line, the error's name and message (capped), as
 * `error`, and never the frames. An `Error` logged as the message, or as a value of a logged
 * object or array, is reduced to its name, code and message.
 *
 * Overrides ConsoleLogger's protected hooks: a reliance listed in framework-internals.ts.
 */
export class AppLogger extends ConsoleLogger {
  protected override getJsonLogObject(
    message: unknown,
    options: Parameters<ConsoleLogger['getJsonLogObject']>[1],
  ): ReturnType<ConsoleLogger['getJsonLogObject']> & { error?: string; request_id?: string } {
    const object: ReturnType<ConsoleLogger['getJsonLogObject']> & {
      error?: string;
      request_id?: string;
    } = super.getJsonLogObject(withoutFrames(message), { ...options, errorStack: undefined });
    const error = firstLine(options.errorStack);
    if (error) object.error = error;
    // Top-level on every line of a request, the request line (which names its own) included.
    const own = (message as { request_id?: unknown } | null)?.request_id;
    const id = typeof own === 'string' ? own : currentRequestId();
    if (id !== undefined) object.request_id = id;
    return object;
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): unknown {
    return super.stringifyMessage(withoutFrames(message), logLevel);
  }

  protected override formatMessage(
    ...args: Parameters<ConsoleLogger['formatMessage']>
  ): ReturnType<ConsoleLogger['formatMessage']> {
    return withRequestIdAtEnd(super.formatMessage(...args));
  }

  protected override printStackTrace(stack: string): void {
    const error = firstLine(stack);
    if (error) super.printStackTrace(withRequestIdAtEnd(error));
  }
}

/** A pretty line with ` [<request id>]` before its line break, unless it names the id already. */
function withRequestIdAtEnd(line: string): string {
  const id = currentRequestId();
  if (id === undefined || line.includes(`[${id}]`)) return line;
  return line.endsWith('\n') ? `${line.slice(0, -1)} [${id}]\n` : `${line} [${id}]`;
}

const FRAME = /\n\s+at .+:\d+:\d+/;

/** The message with errors reduced to one line: itself, or its values one level down. */
function withoutFrames(message: unknown): unknown {
  if (Array.isArray(message)) return message.map(reduced);
  if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
    return Object.fromEntries(
      Object.entries(message)
        .filter(([key]) => key !== 'stack')
        .map(([key, value]) => [key, reduced(value)]),
    );
  }
  return reduced(message);
}

function reduced(value: unknown): unknown {
  if (value instanceof Error) return summary(value);
  return typeof value === 'string' && FRAME.test(value) ? firstLine(value) : value;
}

/** `TypeError [ERR_X]: message`, with the first inner error of an AggregateError. */
function summary(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code;
  const inner = error instanceof AggregateError ? (error.errors as unknown[])[0] : undefined;
  const detail = error.message || (inner instanceof Error ? `${inner.name}: ${inner.message}` : '');
  return firstLine(`${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${detail}`);
}

function firstLine(text: unknown): string | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const line = text.split('\n', 1)[0];
  return line.length > SUMMARY_MAX ? `${line.slice(0, SUMMARY_MAX)}…` : line;
}

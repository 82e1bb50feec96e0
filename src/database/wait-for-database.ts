import { Logger } from '@nestjs/common';
import { Client } from 'pg';

export interface RetryOptions {
  /** Connection attempts in all (default 30: about two minutes with the backoff below). */
  attempts?: number;
  /** Wait after the first failure; it doubles after each one, up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

/** Socket errors of a server that is not there yet (compose, a restart, DNS not ready). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * Worth another attempt: the server is unreachable, starting up or shutting down (SQLSTATE
 * 57P0x), out of connections (53300) or dropped the connection (class 08), or the connect timed
 * out. A wrong password or a missing database is not: those fail at once.
 */
export function isTransientConnectError(error: unknown): boolean {
  // Not `instanceof Error`: errors may come from another realm (Node's internals under jest).
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    return (
      NETWORK_CODES.has(code) || code.startsWith('57P') || code.startsWith('08') || code === '53300'
    );
  }
  // pg's own connect timeout and lost connections carry no code.
  return typeof message === 'string' && /timeout|terminated|closed/i.test(message);
}

/** A short reason for a log line: the error code, never the URL, host or password. */
function reason(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /timeout/i.test(message) ? 'timeout' : 'connection lost';
}

/**
 * Runs `connect` until it succeeds, retrying transient failures with a capped exponential backoff
 * and one log line per retry (no stack). Every start path goes through it, so a database that is
 * still booting delays the start instead of failing it.
 */
export async function withDatabaseRetry<T>(
  connect: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 30;
  const firstDelayMs = options.firstDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const log = options.log ?? ((line: string) => new Logger('Database').warn(line));
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      if (attempt >= attempts || !isTransientConnectError(error)) throw error;
      const delayMs = Math.min(firstDelayMs * 2 ** (attempt - 1), maxDelayMs);
      log(
        `Database not reachable (${reason(error)}): attempt ${attempt}/${attempts} failed, ` +
          `retrying in ${delayMs} ms`,
      );
      await sleep(delayMs);
    }
  }
}

/** One direct session to `url`, connected (with retries). The caller ends it. */
export function connectWithRetry(
  url: string,
  applicationName: string,
  options: RetryOptions & { connectTimeoutMs?: number } = {},
): Promise<Client> {
  return withDatabaseRetry(async () => {
    const client = new Client({
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
      application_name: applicationName,
    });
    // A connection lost later surfaces on the next query; without a listener it would crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }, options);
}

/** Waits until `url` accepts a connection (start-up without migrations). */
export async function waitForDatabase(url: string, options: RetryOptions = {}): Promise<void> {
  const client = await connectWithRetry(url, 'todo-api', options);
  await client.end();
}

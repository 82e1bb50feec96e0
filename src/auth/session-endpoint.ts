import { Logger } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import {
  SESSION_COOKIE_NAMES,
  SessionCheckUnavailableError,
  SessionLookup,
  SessionRecord,
  SessionToken,
  signSessionToken,
} from './session-token';

export interface SessionEndpointOptions {
  /** `{BETTER_AUTH_URL}/api/auth/get-session`, with its read-only query. */
  url: URL;
  timeoutMs: number;
  /** Better Auth's secret, when the API shares it: a bare token is then sent as the cookie. */
  secret?: KeyObject;
}

/**
 * Asks Better Auth itself (`GET /api/auth/get-session`) whose a session token is, as its own
 * frontend would. The token goes as the session cookie, signed (under both of its names, with and
 * without the `__Secure-` prefix Better Auth uses on https), which works whether or not that
 * Better Auth has the `bearer` plugin; and as Bearer too, as it was presented, which is all a
 * bare token can be when the secret is not known here (then the `bearer` plugin is needed).
 * Nothing else of the request is forwarded, and the token is never logged.
 *
 * Better Auth answers 200 with the session, or 200 `null` for none (unknown, signed out, expired).
 * Anything else (no answer within the timeout, a refused connection, a 5xx, a 429 from its rate
 * limiter, a body it would not send) means it cannot tell now: {@link SessionCheckUnavailableError}.
 */
export class BetterAuthSessionEndpoint extends SessionLookup {
  private readonly logger = new Logger('BetterAuthSessions');
  private failing = false;

  constructor(
    private readonly options: SessionEndpointOptions,
    private readonly fetchFn: typeof fetch = fetch,
  ) {
    super();
  }

  async find(session: SessionToken): Promise<SessionRecord | undefined> {
    const signed =
      session.signed ??
      (this.options.secret && signSessionToken(session.token, this.options.secret));
    const headers: Record<string, string> = {
      accept: 'application/json',
      // As presented: a bare token is signed by the bearer plugin itself, with its own secret.
      authorization: `Bearer ${session.signed ?? session.token}`,
    };
    if (signed !== undefined) {
      const value = encodeURIComponent(signed);
      headers.cookie = SESSION_COOKIE_NAMES.map((name) => `${name}=${value}`).join('; ');
    }
    let body: unknown;
    try {
      const response = await this.fetchFn(this.options.url, {
        headers,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`HTTP ${response.status}`);
      }
      body = await response.json();
    } catch (error) {
      throw this.unavailable(error);
    }
    const record = body === null ? null : toSessionRecord(body);
    if (record === undefined) throw this.unavailable(new Error('not a session'));
    if (this.failing) {
      this.failing = false;
      this.logger.log(`Better Auth at ${this.options.url.origin} answers session checks again`);
    }
    return record ?? undefined;
  }

  private unavailable(error: unknown): SessionCheckUnavailableError {
    // Once per outage: every session request of the outage would otherwise log it.
    if (!this.failing) {
      this.failing = true;
      this.logger.warn(
        `Better Auth session check at ${this.options.url.origin} failed (${describe(error)}); ` +
          'session tokens answer 503 until it answers again',
      );
    }
    return new SessionCheckUnavailableError();
  }
}

/** `TypeError: fetch failed (ECONNREFUSED)`: names and codes, never a header. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return `${error.name}: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}`;
}

/** get-session's `{ session: { userId, expiresAt, … }, user }`, or undefined if it is not that. */
function toSessionRecord(body: unknown): SessionRecord | undefined {
  const session = (body as { session?: { userId?: unknown; expiresAt?: unknown } } | null)?.session;
  const { userId, expiresAt } = session ?? {};
  if (typeof userId !== 'string' || typeof expiresAt !== 'string') return undefined;
  const expiry = new Date(expiresAt);
  return Number.isNaN(expiry.getTime()) ? undefined : { userId, expiresAt: expiry };
}

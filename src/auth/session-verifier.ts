import { Inject, Injectable } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { authConfig, AuthConfig } from '../config/configuration';
import { InvalidTokenError } from './token-rules';
import {
  hasValidSignature,
  parseSessionToken,
  SessionLookup,
  SessionRecord,
  SessionToken,
} from './session-token';

/**
 * Checks a Better Auth session token, once TokenGate has screened it as one and found it in no
 * cache: its signature first, here, when the token came signed and Better Auth's secret is known
 * (a forged cookie costs no lookup); then the session itself, through the configured
 * {@link SessionLookup} (Better Auth's endpoint or its table). Requests that bring the same
 * unchecked token at once (a page's parallel fetches) share one lookup.
 *
 * Without the secret a signed token cannot be checked here: the endpoint has Better Auth check
 * it; the table holds the token, and the signature adds nothing the token does not already prove.
 */
@Injectable()
export class SessionVerifier {
  private readonly secret?: KeyObject;
  private readonly pending = new Map<string, Promise<SessionRecord | undefined>>();

  constructor(
    @Inject(authConfig.KEY) auth: AuthConfig,
    private readonly lookup: SessionLookup,
  ) {
    this.secret = auth.sharedSecretKey;
  }

  /** The live session of `presented`; throws {@link InvalidTokenError} for none. */
  async check(presented: string): Promise<SessionRecord> {
    const session = parseSessionToken(presented);
    if (session === undefined) throw new InvalidTokenError('Malformed token', 'malformed');
    if (session.signed !== undefined && this.secret && !hasValidSignature(session, this.secret)) {
      throw new InvalidTokenError('Invalid token', 'bad_signature');
    }
    const record = await this.find(presented, session);
    if (record === undefined) {
      throw new InvalidTokenError('Session not found or signed out', 'session_unknown');
    }
    if (!(record.expiresAt.getTime() > Date.now())) {
      throw new InvalidTokenError('Session has expired', 'session_expired');
    }
    return record;
  }

  private find(presented: string, session: SessionToken): Promise<SessionRecord | undefined> {
    let pending = this.pending.get(presented);
    if (pending === undefined) {
      pending = this.lookup.find(session).finally(() => this.pending.delete(presented));
      this.pending.set(presented, pending);
    }
    return pending;
  }
}

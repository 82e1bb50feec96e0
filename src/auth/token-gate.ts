import { Inject, Injectable } from '@nestjs/common';
import { Request } from 'express';
import { Strategy } from 'passport-strategy';
import { authConfig, AuthConfig } from '../config/configuration';
import { AuthUser } from './auth-user';
import { isSessionTokenShaped, SESSION_TOKEN, SessionRecord } from './session-token';
import {
  acceptClaims,
  extractBearerToken,
  InvalidTokenError,
  isSaneSubject,
  screenToken,
} from './token-rules';
import { VerifiedTokenCache } from './verified-token-cache';

/** A kind of token: the passport strategy that verifies it, and the only algorithms it may carry. */
export interface TokenSource {
  readonly strategyName: string;
  /** Empty when the source is not configured: its strategy then declines every token. */
  readonly algorithms: readonly string[];
}

/** The refusal when there is no bearer token at all. */
export const NO_TOKEN = new InvalidTokenError('Not authenticated', 'no_token');

interface VerifiedToken {
  user: AuthUser;
  strategyName: string;
}

/** What {@link TokenGate.admit} learned of a request's token, shared by every strategy asked. */
interface Screened {
  token?: string;
  known?: VerifiedToken;
  algorithm?: string;
  refusal?: unknown;
}

/**
 * What every token strategy does around its own verification, inside passport's flow: first the
 * cache of verified tokens and the hygiene rules ({@link admit}), last the claim rules and the
 * cache again ({@link accept}). The strategies differ only in how they check a signature.
 *
 * The cache is why passport's flow costs little: a client sends the same token for its whole
 * life, so after the first request a strategy answers from here without a signature check or a
 * promise round. One cache for all sources (one size bound); an entry records which strategy
 * verified it, and only that strategy accepts it.
 */
@Injectable()
export class TokenGate {
  private readonly cache: VerifiedTokenCache<VerifiedToken>;
  private readonly screened = new WeakMap<Request, Screened>();
  private readonly clockToleranceSeconds: number;
  /** Better Auth session tokens are on: a token shaped like one is screened as one. */
  private readonly sessionTokens: boolean;
  private readonly sessionCacheMs: number;

  constructor(@Inject(authConfig.KEY) auth: AuthConfig) {
    this.cache = new VerifiedTokenCache(auth.tokenCacheSize, auth.tokenCacheMaxAgeMs);
    this.clockToleranceSeconds = auth.clockToleranceSeconds;
    this.sessionTokens = auth.sessionTokens !== undefined;
    this.sessionCacheMs = auth.sessionTokens?.cacheMs ?? 0;
  }

  /**
   * Called by a strategy's `authenticate` (`strategy` is passport's per-request copy of it).
   * Either answers for the strategy and returns undefined: `success` for a token it verified
   * before, `fail` with a reason for no token or a token that breaks the hygiene rules, `fail`
   * without one (declined: the next strategy may take it) for a token of another kind. Or returns
   * the token for the strategy to verify.
   */
  admit(
    strategy: Pick<Strategy, 'success' | 'fail'>,
    request: Request,
    source: TokenSource,
  ): string | undefined {
    const seen = this.screen(request);
    if (seen.token === undefined) return void strategy.fail(NO_TOKEN, 401);
    if (seen.known) {
      if (seen.known.strategyName === source.strategyName) strategy.success(seen.known.user);
      else strategy.fail(401);
      return undefined;
    }
    if (seen.refusal !== undefined) return void strategy.fail(seen.refusal, 401);
    // Each source pins its own algorithms: an HMAC token never meets a public key, nor the reverse.
    if (!source.algorithms.includes(seen.algorithm as string)) return void strategy.fail(401);
    return seen.token;
  }

  /**
   * The token's screening, once per request: passport asks each strategy in turn, and a JWKS
   * token would otherwise be looked up in the cache and decoded again by every strategy before
   * its own.
   */
  private screen(request: Request): Screened {
    let seen = this.screened.get(request);
    if (seen === undefined) {
      const token = extractBearerToken(request.headers.authorization);
      seen = { token, known: token === undefined ? undefined : this.cache.get(token) };
      if (token !== undefined && seen.known === undefined) {
        try {
          seen.algorithm = screenToken(token);
        } catch (refusal) {
          // Not a JWT. A session token (when they are on) is no JWS, hence no refusal: it goes
          // to the one strategy that takes SESSION_TOKEN; off, it stays "Malformed token".
          if (this.sessionTokens && isSessionTokenShaped(token)) seen.algorithm = SESSION_TOKEN;
          else seen.refusal = refusal;
        }
      }
      this.screened.set(request, seen);
    }
    return seen;
  }

  /**
   * Called by a strategy's `validate` once the signature and its library's claim checks passed:
   * our claim rules, then the cache. Throws {@link InvalidTokenError} to refuse.
   */
  accept(token: string, payload: unknown, source: TokenSource): AuthUser {
    const { user, trustUntilMs } = acceptClaims(payload, this.clockToleranceSeconds);
    this.cache.set(token, { user, strategyName: source.strategyName }, trustUntilMs);
    return user;
  }

  /**
   * Called by the session strategy's `validate` with the live session Better Auth holds for the
   * token: its user, cached for the session cache time at most and never past the session's
   * expiry (a signed-out session stops working within that time). Throws
   * {@link InvalidTokenError} to refuse.
   */
  acceptSession(token: string, session: SessionRecord, source: TokenSource): AuthUser {
    if (!isSaneSubject(session.userId)) {
      throw new InvalidTokenError('Invalid token', 'bad_subject');
    }
    const user = { id: session.userId };
    const trustUntilMs = Math.min(session.expiresAt.getTime(), Date.now() + this.sessionCacheMs);
    this.cache.set(token, { user, strategyName: source.strategyName }, trustUntilMs);
    return user;
  }
}

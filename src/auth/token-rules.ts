import { errors } from 'jose';
import { AuthUser } from './auth-user';

/**
 * The token hygiene every source applies, whatever library checks its signature: one place, so
 * that a rule added here holds for passport-jwt's HS256 tokens and jose's JWKS tokens alike.
 * {@link screenToken} runs before the signature is checked, {@link acceptClaims} after.
 */

/**
 * Why a token was refused, for the request's log line (never shown to the client, whose message
 * stays coarse): short, stable, machine-readable.
 */
export type RefusalReason =
  | 'no_token'
  | 'malformed'
  | 'key_in_header'
  | 'unsupported_header'
  | 'algorithm_not_accepted'
  | 'bad_signature'
  | 'unknown_kid'
  | 'jwks_unavailable'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_subject'
  | 'bad_expiry'
  | 'session_unknown'
  | 'session_expired'
  | 'invalid';

/**
 * A token we refuse. The message is safe to show the client: it never echoes the token. The
 * reason is for the log line.
 */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';

  constructor(
    message: string,
    readonly reason: RefusalReason = 'invalid',
  ) {
    super(message);
  }
}

// `%`: a Better Auth session cookie's value as the Cookie header carries it (URL-encoded).
const BEARER = /^bearer[ \t]+([A-Za-z0-9\-_.~+/%]+=*)[ \t]*$/i;

/** Reads `Authorization: Bearer <token>` (scheme case-insensitive) and nothing else. */
export function extractBearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/**
 * A user id we can store, log and compare: 1–255 characters, none of them a control character,
 * a lone surrogate or a line/paragraph separator (Better Auth ids are 32 alphanumerics).
 */
const SANE_SUBJECT = /^[^\p{Cc}\p{Cs}\p{Zl}\p{Zp}]{1,255}$/u;

/** True for a user id we can store, log and compare (see SANE_SUBJECT), whatever its source. */
export function isSaneSubject(id: string): boolean {
  return id.trim() !== '' && SANE_SUBJECT.test(id);
}

/**
 * The latest `exp` taken seriously: 9999-12-31T23:59:59Z, the last instant an ISO 8601 timestamp
 * can name. Beyond it (`1e308`) the claim is nonsense, and the token is refused.
 */
const MAX_EXP_SECONDS = 253_402_300_799;

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Three base64url segments in their one canonical spelling (RFC 7515 §2, RFC 4648 §3.5): no
 * padding, no characters outside the alphabet, and zero unused bits in each segment's last
 * character. Otherwise one token has many spellings, and each would be verified (and cached) anew.
 */
export function isCanonicalCompactJws(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  return parts.every(
    (part) =>
      BASE64URL_SEGMENT.test(part) && Buffer.from(part, 'base64url').toString('base64url') === part,
  );
}

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks what can be checked before the signature and returns the header's `alg`, which picks
 * the strategy. Refuses a token whose header names its own key (`jwk`, `jku`, `x5u`, `x5c`: keys
 * never come from the token, RFC 8725 §3.10) or asks for a critical extension (`crit`: we
 * understand none, RFC 7515 §4.1.11; jose refuses them too, jsonwebtoken would ignore them).
 * The claims must be a JSON object (RFC 7519 §7.2) for either library to read them safely.
 */
export function screenToken(token: string): string {
  if (!isCanonicalCompactJws(token)) throw malformed();
  const [headerPart, payloadPart] = token.split('.');
  const header = jsonObject(headerPart);
  if (!header || !jsonObject(payloadPart)) throw malformed();
  if ('jwk' in header || 'jku' in header || 'x5u' in header || 'x5c' in header) {
    throw new InvalidTokenError('Token header names its own key', 'key_in_header');
  }
  if ('crit' in header) throw new InvalidTokenError('Invalid token', 'unsupported_header');
  if (typeof header.alg !== 'string') throw malformed();
  return header.alg;
}

const malformed = () => new InvalidTokenError('Malformed token', 'malformed');

/** A verified token's user, and until when the token may be trusted (epoch ms). */
export interface AcceptedToken {
  user: AuthUser;
  trustUntilMs: number;
}

/**
 * The claim rules on top of what the signature library checked (`exp`, `nbf`, `iss`, `aud`):
 * `sub` and `exp` required, `sub` sane, `iat` not in the future, `exp` within reason.
 */
export function acceptClaims(payload: unknown, clockToleranceSeconds: number): AcceptedToken {
  if (typeof payload !== 'object' || payload === null) throw new InvalidTokenError('Invalid token');
  const { sub, exp, iat } = payload as Record<string, unknown>;
  if (sub === undefined) throw new InvalidTokenError('Token claim "sub" is invalid', 'bad_subject');
  if (typeof sub !== 'string' || sub.trim() === '') {
    throw new InvalidTokenError('Token has no subject', 'bad_subject');
  }
  if (!SANE_SUBJECT.test(sub)) {
    throw new InvalidTokenError('Token claim "sub" is invalid', 'bad_subject');
  }
  if (typeof exp !== 'number' || !(exp <= MAX_EXP_SECONDS)) {
    throw new InvalidTokenError('Token claim "exp" is invalid', 'bad_expiry');
  }
  if (
    iat !== undefined &&
    (typeof iat !== 'number' || iat > Date.now() / 1000 + clockToleranceSeconds)
  ) {
    throw new InvalidTokenError('Token claim "iat" is invalid', 'issued_in_future');
  }
  // Trusted as long as the library just trusted it (the clock tolerance included), no longer.
  return { user: { id: sub }, trustUntilMs: (exp + clockToleranceSeconds) * 1000 };
}

/**
 * The client-facing message, and the reason for the log, of a refusal by jose, jsonwebtoken or
 * our own rules.
 */
export function toInvalidTokenError(error: unknown): InvalidTokenError {
  if (error instanceof InvalidTokenError) return error;
  // jose
  if (error instanceof errors.JWTExpired) {
    return new InvalidTokenError('Token has expired', 'expired');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new InvalidTokenError(
      `Token claim "${error.claim}" is invalid`,
      CLAIM_REASONS[error.claim] ?? 'invalid',
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError('Invalid token', 'bad_signature');
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new InvalidTokenError(
      'Invalid token',
      error.message === NO_JWKS_YET ? 'jwks_unavailable' : 'unknown_kid',
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new InvalidTokenError('Invalid token', 'algorithm_not_accepted');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new InvalidTokenError('Invalid token', 'malformed');
  }
  // jsonwebtoken's errors, through passport-jwt (told apart by name: passport-jwt owns that
  // dependency). Their messages name the expected values: never shown.
  if (error instanceof Error) {
    if (error.name === 'TokenExpiredError') {
      return new InvalidTokenError('Token has expired', 'expired');
    }
    if (error.name === 'NotBeforeError') {
      return new InvalidTokenError('Token claim "nbf" is invalid', 'not_yet_valid');
    }
    if (error.name === 'JsonWebTokenError') {
      const claim = JSONWEBTOKEN_CLAIM_ERRORS.exec(error.message)?.[1];
      if (claim) {
        const name = CLAIM_NAMES[claim];
        return new InvalidTokenError(`Token claim "${name}" is invalid`, CLAIM_REASONS[name]);
      }
      if (error.message === 'jwt malformed') return malformed();
      if (error.message === 'invalid signature') {
        return new InvalidTokenError('Invalid token', 'bad_signature');
      }
    }
  }
  return new InvalidTokenError('Invalid token');
}

/** JwksKeyStore's words when it never could load the key set. */
export const NO_JWKS_YET = 'No JWKS is available yet';

const JSONWEBTOKEN_CLAIM_ERRORS = /^(?:jwt (audience|issuer) invalid|invalid (nbf|exp) value)/;
const CLAIM_NAMES: Record<string, string> = {
  audience: 'aud',
  issuer: 'iss',
  nbf: 'nbf',
  exp: 'exp',
};
const CLAIM_REASONS: Record<string, RefusalReason> = {
  aud: 'wrong_audience',
  iss: 'wrong_issuer',
  nbf: 'not_yet_valid',
  exp: 'bad_expiry',
  iat: 'issued_in_future',
  sub: 'bad_subject',
};

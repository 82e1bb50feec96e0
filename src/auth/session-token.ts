import { ServiceUnavailableException } from '@nestjs/common';
import { createHmac, KeyObject, timingSafeEqual } from 'node:crypto';

/**
 * Better Auth session tokens, as a frontend's server code sends them as Bearer:
 *
 * - bare: the session's token itself (`session.token`, 32 letters and digits: Better Auth's
 *   `generateId(32)`), as a client of the `bearer` plugin may hold it;
 * - signed: `token.signature`, the `better-auth.session_token` cookie's value and the `bearer`
 *   plugin's `set-auth-token` header, where the signature is HMAC-SHA256 of the token with
 *   Better Auth's secret, in standard base64 with its padding (better-call's `signCookieValue`);
 * - the signed value as it sits in the Cookie header, URL-encoded by `encodeURIComponent`
 *   (`+`, `/`, `=` as `%2B`, `%2F`, `%3D`): what a server component copies from `cookies()`.
 *
 * One spelling of each and nothing else (upper-case escapes only, canonical base64), so that one
 * session cannot be presented in many spellings, each looked up and cached anew. None of them has
 * two dots: a JWT never looks like one.
 */

/** What TokenGate screens a session token as, in place of a JWT's `alg`: no JWT carries it. */
export const SESSION_TOKEN = 'better-auth-session';

/** Better Auth's session cookie, without and with the prefix it uses on https. */
export const SESSION_COOKIE_NAMES = [
  'better-auth.session_token',
  '__Secure-better-auth.session_token',
];

/** A presented session token, taken apart. */
export interface SessionToken {
  /** The session's token, as Better Auth stores it. */
  token: string;
  /** `token.signature` (decoded), when it came signed. */
  signed?: string;
}

const BARE = /^[A-Za-z0-9]{32,128}$/;
const SIGNED = /^([A-Za-z0-9]{32,128})\.([A-Za-z0-9+/]{43}=)$/;
const SIGNED_URL_ENCODED = /^([A-Za-z0-9]{32,128})\.((?:[A-Za-z0-9]|%2B|%2F){43}%3D)$/;

/** The token's parts if it is a session token in one of its spellings, else undefined. */
export function parseSessionToken(presented: string): SessionToken | undefined {
  if (BARE.test(presented)) return { token: presented };
  const signed = SIGNED.exec(presented);
  const encoded = signed ? undefined : SIGNED_URL_ENCODED.exec(presented);
  const [, token, signature] = signed ?? encoded ?? [];
  if (token === undefined || signature === undefined) return undefined;
  const base64 = encoded ? decodeURIComponent(signature) : signature;
  // 32 bytes: the last character before `=` carries two unused bits, which must be zero.
  if (Buffer.from(base64, 'base64').toString('base64') !== base64) return undefined;
  return { token, signed: `${token}.${base64}` };
}

/** True when `presented` has a session token's shape (screening only: nothing is verified). */
export function isSessionTokenShaped(presented: string): boolean {
  return parseSessionToken(presented) !== undefined;
}

/** `token.signature` as Better Auth signs its session cookie with `secret`. */
export function signSessionToken(token: string, secret: KeyObject): string {
  return `${token}.${createHmac('sha256', secret).update(token).digest('base64')}`;
}

/** True when the signed form's signature is `secret`'s (compared in constant time). */
export function hasValidSignature({ token, signed }: SessionToken, secret: KeyObject): boolean {
  if (signed === undefined) return false;
  const given = Buffer.from(signed.slice(token.length + 1), 'base64');
  const expected = createHmac('sha256', secret).update(token).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A session as Better Auth holds it: whose it is, and until when. */
export interface SessionRecord {
  userId: string;
  expiresAt: Date;
}

/**
 * Where a session is found: Better Auth's get-session endpoint, or its session table. Undefined
 * for no such session (never was, signed out, or deleted once expired).
 */
export abstract class SessionLookup {
  abstract find(session: SessionToken): Promise<SessionRecord | undefined>;
}

/**
 * Better Auth could not say whether a session is valid (down, too slow, an error): the request
 * answers 503 with Retry-After, and JWT users are not concerned.
 */
export class SessionCheckUnavailableError extends ServiceUnavailableException {
  constructor() {
    super('Service temporarily unavailable: the session cannot be checked right now, try again');
  }
}

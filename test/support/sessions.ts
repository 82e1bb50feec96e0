import { randomUUID } from 'node:crypto';

/**
 * Users of the second Better Auth (global setup's session server: `bearer` and `jwt` plugins on
 * PostgreSQL), signed in through its public endpoints, holding a session in every form a
 * frontend's server code may send it.
 */
export interface SessionUser {
  id: string;
  /** The session's token as Better Auth stores it (`session.token`). */
  token: string;
  /** `token.signature`: the `bearer` plugin's `set-auth-token` header, the cookie decoded. */
  signed: string;
  /** The `better-auth.session_token` cookie's value as the Cookie header carries it. */
  cookieValue: string;
  /** The Cookie header for Better Auth itself (sign-out, /token). */
  cookie: string;
}

export const sessionAuthUrl = () => process.env.SESSION_AUTH_URL as string;

const PASSWORD = 'correct horse battery staple';

/** Signs a new user up, then in: the sign-in's session. */
export async function sessionUser(): Promise<SessionUser> {
  const email = `${randomUUID()}@example.test`;
  const signUp = await post('/api/auth/sign-up/email', { email, password: PASSWORD, name: 'S' });
  if (!signUp.ok) throw new Error(`Better Auth sign-up failed: ${signUp.status}`);
  const signIn = await post('/api/auth/sign-in/email', { email, password: PASSWORD });
  if (!signIn.ok) throw new Error(`Better Auth sign-in failed: ${signIn.status}`);
  const { token, user } = (await signIn.json()) as { token: string; user: { id: string } };
  const signed = signIn.headers.get('set-auth-token');
  const cookieValue = signIn.headers
    .getSetCookie()
    .map((cookie) => /^better-auth\.session_token=([^;]*)/.exec(cookie)?.[1])
    .find((value) => value !== undefined);
  if (!signed || !cookieValue) throw new Error('Better Auth handed out no session token');
  return {
    id: user.id,
    token,
    signed,
    cookieValue,
    cookie: `better-auth.session_token=${cookieValue}`,
  };
}

/** Signs the session out (Better Auth deletes it). */
export async function signOut(user: SessionUser): Promise<void> {
  const response = await post('/api/auth/sign-out', {}, { cookie: user.cookie });
  if (!response.ok) throw new Error(`Better Auth sign-out failed: ${response.status}`);
}

/** A `jwt` plugin token (EdDSA) of the session server for the user. */
export async function sessionServerJwt(user: SessionUser): Promise<string> {
  const response = await fetch(`${sessionAuthUrl()}/api/auth/token`, {
    headers: { cookie: user.cookie },
  });
  if (!response.ok) throw new Error(`Better Auth /token failed: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** The harness's switchboard of the session server (see startSessionBetterAuthServer). */
export const sessionServer = {
  stop: () => control('POST', '/stop'),
  start: () => control('POST', '/start'),
  getSessionCalls: async () =>
    ((await control('GET', '/calls')) as { getSession: number }).getSession,
};

async function control(method: string, path: string): Promise<unknown> {
  const response = await fetch(`${process.env.SESSION_AUTH_CONTROL_URL}${path}`, { method });
  if (!response.ok) throw new Error(`session server control ${path}: ${response.status}`);
  return response.json();
}

function post(path: string, body: object, headers: Record<string, string> = {}) {
  return fetch(`${sessionAuthUrl()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: sessionAuthUrl(), ...headers },
    body: JSON.stringify(body),
  });
}

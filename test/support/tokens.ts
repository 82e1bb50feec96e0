import { randomUUID } from 'node:crypto';
import { JWTPayload, SignJWT } from 'jose';

export interface TestUser {
  id: string;
  token: string;
  auth: { Authorization: string };
}

const secret = () => new TextEncoder().encode(process.env.BETTER_AUTH_SECRET);

/** An HS256 token signed with BETTER_AUTH_SECRET, as a shared-secret frontend mints it. */
export async function hs256Token(
  claims: JWTPayload & { sub?: string },
  { expiresIn = '15m', key = secret() }: { expiresIn?: string | number; key?: Uint8Array } = {},
): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt();
  if (expiresIn !== 0) jwt = jwt.setExpirationTime(expiresIn);
  return jwt.sign(key);
}

/** A fresh user (random id) with an HS256 token: most suites need many independent users. */
export async function newUser(): Promise<TestUser> {
  const id = `user-${randomUUID()}`;
  const token = await hs256Token({ sub: id });
  return { id, token, auth: { Authorization: `Bearer ${token}` } };
}

/** Signs a user up on the real Better Auth server and asks it for a `jwt` plugin token. */
export async function betterAuthUser(): Promise<TestUser> {
  const base = process.env.BETTER_AUTH_URL as string;
  const signUp = await fetch(`${base}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({
      email: `${randomUUID()}@example.test`,
      password: 'correct horse battery staple',
      name: 'Test User',
    }),
  });
  if (!signUp.ok) throw new Error(`Better Auth sign-up failed: ${signUp.status}`);
  const { user } = (await signUp.json()) as { user: { id: string } };
  const cookie = signUp.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');

  const tokenResponse = await fetch(`${base}/api/auth/token`, { headers: { cookie } });
  if (!tokenResponse.ok) throw new Error(`Better Auth /token failed: ${tokenResponse.status}`);
  const { token } = (await tokenResponse.json()) as { token: string };
  return { id: user.id, token, auth: { Authorization: `Bearer ${token}` } };
}

/** A token signed by the Better Auth server's own key, with whatever claims a test needs. */
export async function betterAuthSigned(payload: JWTPayload): Promise<string> {
  const response = await fetch(`${process.env.BETTER_AUTH_URL}/test/sign-jwt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  if (!response.ok) throw new Error(`signJWT failed: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

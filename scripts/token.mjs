#!/usr/bin/env node
// Mints an HS256 token for a test user, signed like a Better Auth shared-secret frontend does:
//   npm run token -- <user-id> [--ttl 3600]
// The secret is BETTER_AUTH_SECRET (environment or .env), else the local one `npm start`
// generated in .data/dev-secret. The token goes to stdout alone, so `$(npm run -s token -- x)` works.
import { existsSync, readFileSync } from 'node:fs';
import { SignJWT } from 'jose';

if (existsSync('.env')) process.loadEnvFile('.env');

const args = process.argv.slice(2);
const ttlIndex = args.indexOf('--ttl');
const ttl = ttlIndex >= 0 ? Number(args.splice(ttlIndex, 2)[1]) : 3600;
const userId = args[0] ?? 'demo-user';
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error('--ttl must be a positive number of seconds');
  process.exit(2);
}

const secretFile = '.data/dev-secret';
const secret =
  process.env.BETTER_AUTH_SECRET ||
  (existsSync(secretFile) ? readFileSync(secretFile, 'utf8').trim() : undefined);
if (!secret) {
  console.error(
    'No secret: set BETTER_AUTH_SECRET, or run `npm start` once with no token source configured ' +
      'so that it generates .data/dev-secret.',
  );
  process.exit(1);
}

let jwt = new SignJWT({ name: userId })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject(userId)
  .setIssuedAt()
  .setExpirationTime(`${ttl}s`);
if (process.env.JWT_ISSUER) jwt = jwt.setIssuer(process.env.JWT_ISSUER);
if (process.env.JWT_AUDIENCE) jwt = jwt.setAudience(process.env.JWT_AUDIENCE);

process.stdout.write(`${await jwt.sign(new TextEncoder().encode(secret))}\n`);
console.error(
  `Token for user "${userId}", valid ${ttl} s. Use it as: Authorization: Bearer <token>`,
);

// Mints an HS256 token for a test user, signed like a Better Auth shared-secret frontend does:
//   npm run token -- <user-id> [--ttl 3600]
// Configuration comes through the app's own loader (.env, validated): BETTER_AUTH_SECRET, else
// the local secret a zero-configuration `npm start` uses (.data/dev-secret); HS256_ISSUER and
// HS256_AUDIENCE when set (the first of a list). The token goes to stdout alone, so `$(npm run -s token -- x)` works.
import { SignJWT } from 'jose';
import { useDevelopmentSecret } from '../src/auth/development-secret';
import { loadEnvFile } from '../src/config/config.module';
import { authConfig } from '../src/config/configuration';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ttlIndex = args.indexOf('--ttl');
  const ttl = ttlIndex >= 0 ? Number(args.splice(ttlIndex, 2)[1]) : 3600;
  const userId = args[0] ?? 'demo-user';
  if (!Number.isInteger(ttl) || ttl <= 0) {
    console.error('--ttl must be a positive number of seconds');
    process.exit(2);
  }

  await loadEnvFile();
  useDevelopmentSecret();
  const auth = authConfig();
  if (!auth.sharedSecret) {
    console.error(
      'No BETTER_AUTH_SECRET: this API is configured for JWKS tokens only; ask Better Auth for one.',
    );
    process.exit(1);
  }

  let jwt = new SignJWT({ name: userId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(`${ttl}s`);
  const { issuer, audience } = auth.hs256;
  if (issuer) jwt = jwt.setIssuer(Array.isArray(issuer) ? issuer[0] : issuer);
  if (audience) jwt = jwt.setAudience(Array.isArray(audience) ? audience[0] : audience);

  process.stdout.write(`${await jwt.sign(new TextEncoder().encode(auth.sharedSecret))}\n`);
  console.error(
    `Token for user "${userId}", valid ${ttl} s. Use it as: Authorization: Bearer <token>`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

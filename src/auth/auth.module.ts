import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { authConfig, AuthConfig } from '../config/configuration';
import { BetterAuthSessionEndpoint } from './session-endpoint';
import { SessionLookup } from './session-token';
import { BetterAuthSessionRepository } from './session.repository';
import { SessionVerifier } from './session-verifier';
import { TokenGate } from './token-gate';
import { TOKEN_STRATEGIES } from './token-strategies';

/**
 * The token strategies (registered with passport as they are built). Their guard,
 * `JwtAuthGuard`, is registered globally in app.module.ts.
 */
@Module({
  imports: [PassportModule.register({ session: false })],
  providers: [
    TokenGate,
    SessionVerifier,
    {
      provide: SessionLookup,
      inject: [authConfig.KEY, getDataSourceToken()],
      useFactory: sessionLookupFor,
    },
    ...TOKEN_STRATEGIES,
  ],
})
export class AuthModule {}

/** Where session tokens are looked up: Better Auth's endpoint or its table (or nowhere: off). */
function sessionLookupFor(auth: AuthConfig, dataSource: DataSource): SessionLookup {
  const sessions = auth.sessionTokens;
  if (sessions?.verify === 'endpoint') {
    return new BetterAuthSessionEndpoint({
      url: sessions.url,
      timeoutMs: sessions.timeoutMs,
      secret: auth.sharedSecretKey,
    });
  }
  if (sessions?.verify === 'database') {
    return new BetterAuthSessionRepository(dataSource.manager, sessions.table);
  }
  return NO_SESSIONS;
}

/** Session tokens off: TokenGate never screens a token as one, so this is never asked. */
const NO_SESSIONS: SessionLookup = { find: () => Promise.resolve(undefined) };

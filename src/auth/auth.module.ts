import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { TokenGate } from './token-gate';
import { TOKEN_STRATEGIES } from './token-strategies';

/**
 * The token strategies (registered with passport as they are built). Their guard,
 * `JwtAuthGuard`, is registered globally in app.module.ts.
 */
@Module({
  imports: [PassportModule.register({ session: false })],
  providers: [TokenGate, ...TOKEN_STRATEGIES],
})
export class AuthModule {}

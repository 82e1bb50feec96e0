import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { JwtStrategy } from './bearer-token.strategy';
import { TokenVerifier } from './token-verifier';

/** Token verification. Its guard, `JwtAuthGuard`, is registered globally in app.module.ts. */
@Module({
  imports: [PassportModule.register({ session: false })],
  providers: [TokenVerifier, JwtStrategy],
  exports: [TokenVerifier, JwtStrategy],
})
export class AuthModule {}

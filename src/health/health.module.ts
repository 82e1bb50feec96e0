import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HttpDrain } from '../common/http-drain';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  // Readiness reads it; configureApp() and bootstrap drive it.
  providers: [HttpDrain],
  exports: [HttpDrain],
})
export class HealthModule {}

import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '../auth/public.decorator';
import { HttpDrain } from '../common/http-drain';

@ApiTags('health')
@Public()
@SkipThrottle() // probes poll often, from one address: never limited
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly drain: HttpDrain,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers and the process is not stopping' })
  @ApiOkResponse({ schema: { example: { status: 'ok', database: 'up' } } })
  @ApiServiceUnavailableResponse({ schema: { example: { detail: 'Database unreachable' } } })
  async ready() {
    // First thing after SIGTERM, so a balancer stops sending before the server stops accepting.
    if (this.drain.draining) throw new ServiceUnavailableException('Shutting down');
    try {
      await this.health.check([() => this.database.pingCheck('database', { timeout: 2000 })]);
    } catch {
      throw new ServiceUnavailableException('Database unreachable');
    }
    // Again: a probe that was waiting for the ping when SIGTERM came must not see 200.
    if (this.drain.draining) throw new ServiceUnavailableException('Shutting down');
    return { status: 'ok', database: 'up' };
  }
}

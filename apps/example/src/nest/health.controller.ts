import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { NearCacheHealthIndicator } from '@nearcache/nestjs';

/** `GET /health`: up once the cache caught up with its topic and while it keeps up. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly nearCache: NearCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.nearCache.isHealthy('nearcache', { maxLagMs: 30_000 })]);
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Req, Res } from '@nestjs/common';
import { InstanceContext } from '../shared/instance.js';

/** `GET /metrics`: the cache's OpenTelemetry metrics in the Prometheus text format (docs/operations.md). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly instance: InstanceContext) {}

  @Get()
  metrics(@Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    this.instance.metrics.handle(req, res);
  }
}

import { BadRequestException, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { InstanceContext } from '../shared/instance.js';

/** What the instance measures about itself (see `InstanceContext`); the demo reads it. */
@Controller('internal')
export class InternalController {
  constructor(private readonly instance: InstanceContext) {}

  @Get('stats')
  stats() {
    return this.instance.stats();
  }

  @Post('stats/reset')
  @HttpCode(204)
  reset(): void {
    this.instance.tracker.reset();
  }

  @Get('entry')
  entry(@Query('key') key: unknown) {
    if (typeof key !== 'string' || key.length === 0) throw new BadRequestException('give ?key=<cache key>');
    return this.instance.entry(key);
  }
}

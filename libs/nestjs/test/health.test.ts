import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { createNearCache, InProcessBroker, inProcessLog, NearCache, silentLogger } from '@nearcache/core';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { NearCacheHealthIndicator, NearCacheModule } from '../src/index.js';
import { freePort } from '../../../scripts/lib/shared.mjs';
import { closeApps, createApp, held, waitFor } from './helpers.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly nearCache: NearCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.nearCache.isHealthy('nearcache')]);
  }
}

describe('NearCacheHealthIndicator', () => {
  afterEach(closeApps);

  it('is down while the cache bootstraps and up once it is live; terminus answers 503 then 200', async () => {
    const broker = new InProcessBroker();
    const seed = createNearCache({ topic: 'health', log: inProcessLog(broker), logger: silentLogger });
    await seed.ready();
    await seed.set('k', 'v');
    await seed.close();

    const log = held(inProcessLog(broker));
    const app = await createApp({
      imports: [TerminusModule, NearCacheModule.forRoot({ topic: 'health', log, logger: silentLogger, waitForReady: false })],
      controllers: [HealthController],
    });
    const indicator = app.get(NearCacheHealthIndicator);
    const down = await indicator.isHealthy('nearcache');
    expect(down.nearcache.status).toBe('down');
    expect(['starting', 'bootstrapping']).toContain(down.nearcache.state);
    const response = await request(app.getHttpServer()).get('/health').expect(503);
    expect(response.body.error.nearcache.status).toBe('down');

    log.last!.release();
    await app.get(NearCache).ready();
    expect((await indicator.isHealthy('nearcache')).nearcache).toMatchObject({ status: 'up', state: 'live', lagRecords: 0 });
    const up = await request(app.getHttpServer()).get('/health').expect(200);
    expect(up.body.info.nearcache.status).toBe('up');
  });

  it('while the broker refuses connections, names the last error of the start', async () => {
    const port = await freePort();
    const app = await createApp({
      imports: [NearCacheModule.forRoot({ topic: 'health-dead-broker', kafka: { brokers: [`127.0.0.1:${port}`] }, logger: silentLogger, waitForReady: false })],
    });
    const indicator = app.get(NearCacheHealthIndicator);
    await waitFor(() => indicator.check('c').c.message !== 'connecting to the log', { message: 'a start attempt to fail', timeout: 20_000 });
    const { c } = indicator.check('c');
    expect(c).toMatchObject({ status: 'down', state: 'starting' });
    expect(c.message).toMatch(
      new RegExp(`^connecting to the log; last error: connecting to Kafka: cannot reach Kafka at 127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
    );
  });

  it('is down when the cache lags more than a threshold (records or time), and once closed', async () => {
    const broker = new InProcessBroker();
    // An empty topic: the cache is live at once; then every batch it is delivered is held back.
    const log = held(inProcessLog(broker));
    const app = await createApp({ imports: [NearCacheModule.forRoot({ topic: 'lag', log, logger: silentLogger, lagPollInterval: 10 })] });
    const indicator = app.get(NearCacheHealthIndicator);
    const cache = app.get(NearCache);
    expect(indicator.check('c', { maxLagRecords: 0 }).c).toMatchObject({ status: 'up', state: 'live' });

    const writer = createNearCache({ topic: 'lag', log: inProcessLog(broker), logger: silentLogger });
    await writer.ready();
    await writer.set('a', 1);
    await writer.set('b', 2);
    await writer.flush();
    await writer.close();
    await waitFor(() => indicator.check('c').c.lagRecords === 2, { message: 'the lag to be seen' });
    expect(indicator.check('c', { maxLagRecords: 1 }).c).toMatchObject({ status: 'down', state: 'live', lagRecords: 2 });
    expect(indicator.check('c', { maxLagRecords: 2 }).c.status).toBe('up');
    await waitFor(() => indicator.check('c').c.lagMs > 0, { message: 'lag in ms' });
    expect(indicator.check('c', { maxLagMs: 0 }).c.status).toBe('down');
    expect(indicator.check('c', { maxLagMs: 3_600_000 }).c.status).toBe('up');

    log.last!.release();
    await waitFor(() => cache.get('b') === 2, { message: 'the held records to be applied' });
    expect(indicator.check('c', { maxLagRecords: 0 }).c.status).toBe('up');
    await cache.close();
    expect(indicator.check('c').c).toMatchObject({ status: 'down', state: 'closed' });
  });
});

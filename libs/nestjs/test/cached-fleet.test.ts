import { Injectable } from '@nestjs/common';
import { InProcessBroker, InvalidOptionError, NearCache } from '@nearcache/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, inProcess } from './helpers.js';

// @Cached with fleet-wide single flight (docs/consistency.md, section 18): several applications
// on one topic missing a key together run the method once.

let runs = 0;

@Injectable()
class ReportService {
  @Cached({ key: 'report:{0}', fleetWait: 5000 })
  async report(id: string): Promise<{ id: string; run: number }> {
    await Promise.resolve();
    return { id, run: ++runs };
  }

  @Cached({ key: 'plain:{0}' })
  async plain(id: string): Promise<{ id: string; run: number }> {
    return { id, run: ++runs };
  }

  @Cached({ key: 'off:{0}', fleetWait: 0 })
  async off(id: string): Promise<{ id: string; run: number }> {
    return { id, run: ++runs };
  }
}

async function fleet(size: number, moduleOptions: { fleetWait?: number } = {}): Promise<Array<{ cache: NearCache; service: ReportService }>> {
  const broker = new InProcessBroker();
  return Promise.all(
    Array.from({ length: size }, async () => {
      const app = await createApp({
        imports: [NearCacheModule.forRoot({ ...inProcess(broker, 'reports'), closeTimeout: 1000, ...moduleOptions })],
        providers: [ReportService],
      });
      const cache = app.get(NearCache);
      await cache.ready();
      return { cache, service: app.get(ReportService) };
    }),
  );
}

afterEach(async () => {
  await closeApps();
  runs = 0;
});

describe('@Cached({ fleetWait })', () => {
  it('five applications missing one key at once run the method once; all return its result', async () => {
    const apps = await fleet(5);
    const answers = await Promise.all(apps.map(({ service }) => service.report('7')));
    expect(runs).toBe(1);
    for (const answer of answers) expect(answer).toEqual({ id: '7', run: 1 });
    for (const { cache } of apps) expect(cache.get('report:7')).toEqual({ id: '7', run: 1 });
  });

  it('without the option each application runs the method; the module option turns it on, and 0 off for one method', async () => {
    const apart = await fleet(3);
    await Promise.all(apart.map(({ service }) => service.plain('1')));
    expect(runs).toBe(3);
    runs = 0;
    const together = await fleet(3, { fleetWait: 5000 });
    await Promise.all(together.map(({ service }) => service.plain('1')));
    expect(runs).toBe(1);
    runs = 0;
    await Promise.all(together.map(({ service }) => service.off('1')));
    expect(runs).toBe(3);
  });

  it('a bad fleetWait is refused where the decorator is applied', () => {
    for (const bad of [-1, 1.5, '10', 2 ** 31]) {
      expect(() => Cached({ fleetWait: bad as number })).toThrow(InvalidOptionError);
      expect(() => Cached({ fleetWait: bad as number })).toThrow(/^@Cached\(\): fleetWait must be an integer number of ms from 0 \(off\)/);
    }
  });
});

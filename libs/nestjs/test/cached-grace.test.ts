import { Injectable } from '@nestjs/common';
import { InProcessBroker, InvalidOptionError, LoaderTimeoutError, NearCache, type Clock, type StaleServed } from '@nearcache/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, inProcess, waitFor } from './helpers.js';

// @Cached with grace, loader timeouts and early refresh (docs/consistency.md, sections 14 to 16).

/** What the methods do on their next run: answer, fail, or wait until released. */
let behaviour: { kind: 'value'; value: string } | { kind: 'fail' } | { kind: 'hold'; gate: Promise<string> } = { kind: 'value', value: 'v1' };
let runs = 0;

function run(): Promise<string> {
  runs++;
  const now = behaviour;
  if (now.kind === 'fail') return Promise.reject(new Error('the source is down'));
  if (now.kind === 'hold') return now.gate;
  return Promise.resolve(now.value);
}

@Injectable()
class RatesService {
  @Cached({ key: 'rates', ttl: 1000, grace: 10_000 })
  async rates(): Promise<string> {
    return run();
  }

  @Cached({ key: 'slow', ttl: 1000, grace: 10_000, softTimeout: 100, hardTimeout: 500 })
  async slow(): Promise<string> {
    return run();
  }

  @Cached({ key: 'bounded', hardTimeout: 500 })
  async bounded(): Promise<string> {
    return run();
  }

  @Cached({ key: 'ahead', ttl: 1000, grace: 1000, refreshAhead: 0.5 })
  async ahead(): Promise<string> {
    return run();
  }
}

/** A clock moved by hand, with timers. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_800_000_000_000;
  const timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  return {
    now: () => now,
    schedule(fn, ms) {
      const timer = { at: now + ms, fn, live: true };
      timers.push(timer);
      return () => {
        timer.live = false;
      };
    },
    advance(ms) {
      now += ms;
      for (const timer of timers.filter((t) => t.live && t.at <= now)) {
        timer.live = false;
        timer.fn();
      }
    },
  };
}

function held(): (value: string) => void {
  let release!: (value: string) => void;
  behaviour = { kind: 'hold', gate: new Promise<string>((resolve) => (release = resolve)) };
  return release;
}

async function start(): Promise<{ cache: NearCache; rates: RatesService; clock: ReturnType<typeof manualClock> }> {
  const clock = manualClock();
  const app = await createApp({ imports: [NearCacheModule.forRoot({ ...inProcess(new InProcessBroker(), 'rates'), clock })], providers: [RatesService] });
  const cache = app.get(NearCache);
  await cache.ready();
  return { cache, rates: app.get(RatesService), clock };
}

describe('@Cached grace, timeouts and early refresh', () => {
  afterEach(async () => {
    behaviour = { kind: 'value', value: 'v1' };
    runs = 0;
    await closeApps();
  });

  it('returns the expired result in grace when the method throws, and caches no failure', async () => {
    const { cache, rates, clock } = await start();
    const served: StaleServed[] = [];
    cache.on('stale', (s) => served.push(s));
    expect(await rates.rates()).toBe('v1');
    clock.advance(2000);
    expect(cache.get('rates')).toBeUndefined();
    behaviour = { kind: 'fail' };
    expect(await rates.rates()).toBe('v1');
    expect(served.map((s) => s.reason)).toEqual(['loader-failed']);
    behaviour = { kind: 'value', value: 'v2' };
    expect(await rates.rates()).toBe('v2');
    expect(runs).toBe(3);
    // Past the grace, the failure goes to the caller.
    clock.advance(12_000);
    behaviour = { kind: 'fail' };
    await expect(rates.rates()).rejects.toThrow('the source is down');
  });

  it('soft timeout returns the result in grace; the method goes on and its result is cached', async () => {
    const { cache, rates, clock } = await start();
    expect(await rates.slow()).toBe('v1');
    clock.advance(2000);
    const release = held();
    const call = rates.slow();
    await waitFor(() => runs === 2);
    clock.advance(100);
    expect(await call).toBe('v1');
    release('v2');
    await waitFor(() => cache.get('slow') === 'v2');
  });

  it('hard timeout without a result in grace rejects with LoaderTimeoutError', async () => {
    const { cache, rates, clock } = await start();
    const release = held();
    const call = rates.bounded();
    await waitFor(() => runs === 1);
    clock.advance(500);
    await expect(call).rejects.toBeInstanceOf(LoaderTimeoutError);
    release('late');
    await waitFor(() => cache.get('bounded') === 'late');
  });

  it('refreshes a hit ahead of its expiry with one background call', async () => {
    const { cache, rates, clock } = await start();
    expect(await rates.ahead()).toBe('v1');
    clock.advance(600);
    const release = held();
    expect(await Promise.all([rates.ahead(), rates.ahead()])).toEqual(['v1', 'v1']);
    expect(runs).toBe(2);
    release('v2');
    await waitFor(() => cache.get('ahead') === 'v2');
    expect(await rates.ahead()).toBe('v2');
  });

  it('refuses bad settings when the class is declared', () => {
    expect(() => Cached({ grace: -1 })).toThrow(InvalidOptionError);
    expect(() => Cached({ softTimeout: 0 })).toThrow(/softTimeout must be an integer/);
    expect(() => Cached({ softTimeout: 500, hardTimeout: 200 })).toThrow(/shorter than hardTimeout/);
    expect(() => Cached({ ttl: 1000, refreshAhead: 1 })).toThrow(/between 0 and 1/);
    expect(() => Cached({ refreshAhead: 0.5 })).toThrow(/needs a ttl/);
  });
});

import { ConflictException, Controller, Get, Header, StreamableFile, UseInterceptors } from '@nestjs/common';
import { createNearCache, InProcessBroker, inProcessLog, invalidateHttpRoute, isHttpVaryIndex, NearCache, silentLogger } from '@nearcache/core';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { NearCacheInterceptor, NearCacheModule } from '../src/index.js';
import { createOn, closePlatformApps, PLATFORMS, type Platform } from './interceptor-platforms.js';
import { closeApps, deferred, inProcess, waitFor } from './helpers.js';

/**
 * Fenced stores (docs/consistency.md, section 11): a response computed while another instance
 * invalidated its route is answered, and stored nowhere.
 */
const state = { version: 'old', gate: undefined as { entered: () => void; opened: Promise<void> } | undefined };

@Controller('f')
@UseInterceptors(NearCacheInterceptor)
class FencedController {
  @Get('page')
  async page(): Promise<{ version: string }> {
    // Reads its data, then (held) answers with it.
    const read = state.version;
    const gate = state.gate;
    if (gate !== undefined) {
      gate.entered();
      await gate.opened;
    }
    return { version: read };
  }

  @Get('vary')
  @Header('Vary', 'Accept-Language')
  vary(): { ok: boolean } {
    return { ok: true };
  }

  @Get('conflict')
  conflict(): never {
    throw new ConflictException('no');
  }

  @Get('thrown')
  thrown(): never {
    throw new Error('the handler failed');
  }

  @Get('nothing')
  nothing(): undefined {
    return undefined;
  }

  @Get('file')
  file(): StreamableFile {
    return new StreamableFile(Buffer.from('bytes'));
  }
}

const KEY = 'http:GET /f/page http://127.0.0.1';

/** Holds the next run of `/f/page`: `entered` resolves once it read its data; `open()` lets it answer. */
function hold(): { entered: Promise<void>; open(): void } {
  const entered = deferred<void>();
  const opened = deferred<void>();
  state.gate = { entered: () => entered.resolve(), opened: opened.promise };
  return {
    entered: entered.promise,
    open: () => {
      state.gate = undefined;
      opened.resolve();
    },
  };
}

/** Waits until every record `from` wrote so far was applied by `to`. */
async function caughtUp(from: NearCache<any>, to: NearCache<any>): Promise<void> {
  const marker = `marker:${Math.random()}`;
  await from.set(marker, 1, { durable: true });
  await waitFor(() => to.has(marker), { message: 'the marker replicated' });
}

describe.each(PLATFORMS)('NearCacheInterceptor on %s: fenced stores', (platform: Platform) => {
  const opened: NearCache<any>[] = [];
  afterEach(async () => {
    state.version = 'old';
    state.gate = undefined;
    await closeApps();
    await closePlatformApps();
    await Promise.all(opened.splice(0).map((cache) => cache.close()));
  });

  async function setup() {
    const broker = new InProcessBroker();
    const topic = `fences-${platform}-${Math.random().toString(36).slice(2, 8)}`;
    const app = await createOn(platform, { imports: [NearCacheModule.forRoot(inProcess(broker, topic))], controllers: [FencedController] });
    const other = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger });
    opened.push(other);
    await other.ready({ timeout: 5000 });
    const open = async () => {
      const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger });
      opened.push(cache);
      await cache.ready({ timeout: 5000 });
      return cache;
    };
    return { app, a: app.get(NearCache) as NearCache<any>, b: other, open };
  }

  it.each([
    ['invalidateHttpRoute', (cache: NearCache<any>) => invalidateHttpRoute(cache, '/f/page', { durable: true })],
    ['a delete of the key', (cache: NearCache<any>) => cache.delete(KEY, { durable: true })],
  ])('%s on another instance while the handler runs: no instance, nor a fresh one, keeps the old response', async (_name, invalidate) => {
    const { app, a, b, open } = await setup();
    const server = app.getHttpServer();
    const held = hold();
    const answered = request(server)
      .get('/f/page')
      .then((response) => response);
    await held.entered;
    await invalidate(b);
    state.version = 'new';
    await caughtUp(b, a);
    held.open();
    const response = await answered;
    expect(response.status).toBe(200);
    expect(response.body.version).toBe('old');
    await caughtUp(a, b);
    const fresh = await open();
    for (const cache of [a, b, fresh]) expect(cache.has(KEY)).toBe(false);
    const next = await request(server).get('/f/page').expect(200);
    expect(next.headers['x-cache']).toBe('MISS');
    expect(next.body.version).toBe('new');
  });

  it('stores what no write was in the way of; every lease ends, whatever the handler did', async () => {
    const { app, a, b } = await setup();
    const server = app.getHttpServer();
    const lease = a.lease.bind(a);
    let open = 0;
    let taken = 0;
    a.lease = (key: string) => {
      const given = lease(key);
      taken++;
      open++;
      let ended = false;
      const end = () => {
        if (!ended) open--;
        ended = true;
      };
      const { fill, release } = given;
      given.fill = (value, options) => {
        end();
        return fill.call(given, value, options);
      };
      given.release = () => {
        end();
        release.call(given);
      };
      return given;
    };
    for (const path of ['/f/page', '/f/vary', '/f/vary', '/f/conflict', '/f/thrown', '/f/nothing', '/f/file']) {
      await request(server).get(path).set('Accept-Language', 'fr');
    }
    await waitFor(() => open === 0, { message: 'every lease ended' });
    expect(taken).toBeGreaterThanOrEqual(7);
    await caughtUp(a, b);
    expect(b.has(KEY)).toBe(true);
    expect(isHttpVaryIndex(b.get('http:GET /f/vary http://127.0.0.1'))).toBe(true);
    for (const path of ['/f/conflict', '/f/thrown', '/f/nothing', '/f/file']) expect(b.has(`http:GET ${path} http://127.0.0.1`)).toBe(false);
  });
});

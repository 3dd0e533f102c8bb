import { tracingChannel } from 'node:diagnostics_channel';
import { Controller, Get, Injectable, NotFoundException, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { InProcessBroker, NEARCACHE_CHANNELS, NearCache, type LoadTrace } from '@nearcache/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cached, NearCacheInterceptor, NearCacheModule } from '../src/index.js';
import { loadEnds } from '../../../test/helpers/load-trace.js';
import { closeApps, createApp, inProcess } from './helpers.js';

// A @Cached method's call on a miss is a load: traced on nearcache:load (and so counted by the
// load metrics of `@nearcache/core/otel`), as a loader call of `wrap` is.

@Injectable()
class Catalog {
  calls = 0;

  @Cached({ key: 'item:{0}' })
  async item(id: string): Promise<{ id: string }> {
    this.calls++;
    return { id };
  }

  @Cached({ key: 'broken:{0}' })
  async broken(id: string): Promise<string> {
    throw new Error(`no item ${id}`);
  }

  @Cached({ key: 'plain:{0}' })
  plain(id: string): string {
    if (id === 'bad') throw new Error('bad id');
    return `plain ${id}`;
  }
}

const subscriptions: Array<() => void> = [];
afterEach(async () => {
  for (const unsubscribe of subscriptions.splice(0)) unsubscribe();
  await closeApps();
});

/** The events of nearcache:load for `cache`, with the context's key and, at the end, result or error. */
function listen(cache: object) {
  const channel = tracingChannel<unknown, LoadTrace>(NEARCACHE_CHANNELS.load);
  const events: string[] = [];
  const on = (event: string) => (context: LoadTrace) => {
    if (context.cache !== cache) return;
    const outcome =
      event === 'error' ? ` ${(context.error as Error).message}` : event === 'asyncEnd' && 'result' in context ? ` ${JSON.stringify(context.result)}` : '';
    events.push(`${event} ${context.key}${outcome}`);
  };
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
  channel.subscribe(handlers);
  subscriptions.push(() => channel.unsubscribe(handlers));
  return events;
}

describe('@Cached loads on nearcache:load', () => {
  it('traces the method call of a miss, with its result, and nothing for a hit', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Catalog] });
    const catalog = app.get(Catalog);
    const events = listen(app.get(NearCache));
    expect(await catalog.item('1')).toEqual({ id: '1' });
    expect(await catalog.item('1')).toEqual({ id: '1' }); // a hit
    expect(catalog.calls).toBe(1);
    expect(events).toEqual(['start item:1', 'end item:1', 'asyncStart item:1', 'asyncEnd item:1 {"id":"1"}']);
  });

  it('ends the load with the error of a method that throws or rejects', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Catalog] });
    const catalog = app.get(Catalog);
    const events = listen(app.get(NearCache));
    await expect(catalog.broken('7')).rejects.toThrow('no item 7');
    expect(() => catalog.plain('bad')).toThrow('bad id');
    expect(catalog.plain('ok')).toBe('plain ok');
    expect(events).toEqual([
      'start broken:7',
      'end broken:7',
      'error broken:7 no item 7',
      'asyncStart broken:7',
      'asyncEnd broken:7',
      'start plain:bad',
      'end plain:bad',
      'error plain:bad bad id',
      'asyncStart plain:bad',
      'asyncEnd plain:bad',
      'start plain:ok',
      'end plain:ok',
      'asyncStart plain:ok',
      'asyncEnd plain:ok "plain ok"',
    ]);
  });
});

@Controller('pages')
@UseInterceptors(NearCacheInterceptor)
class Pages {
  @Get('ok')
  ok(): { ok: boolean } {
    return { ok: true };
  }

  @Get('broken')
  broken(): never {
    throw new Error('database down');
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException('no such page');
  }
}

describe('HTTP loads of the interceptor on nearcache:load', () => {
  it('a stored response ends its load without an error; a handler that threw ends it with its error, a client error without one', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], controllers: [Pages] });
    const cache = app.get(NearCache);
    const { ends, stop } = loadEnds(cache, (key) => key.replace(/^.*GET (\S+).*$/, '$1'));
    subscriptions.push(stop);
    await request(app.getHttpServer()).get('/pages/ok').expect(200);
    await request(app.getHttpServer()).get('/pages/broken').expect(500);
    await request(app.getHttpServer()).get('/pages/missing').expect(404);
    expect(ends).toEqual(['/pages/ok', '/pages/broken error: database down', '/pages/missing']);
  });
});

import { Injectable, Logger, type INestApplication } from '@nestjs/common';
import { InProcessBroker, NearCache } from '@nearcache/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheEvict, Cached, NearCacheModule, UnresolvablePlaceholderError } from '../src/index.js';
import { closeApps, createApp, inProcess, waitFor } from './helpers.js';

/** Rejects when `promise` has not settled within `ms`: a call that waits on itself never does. */
function settlesWithin<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Two applications on one in-process log: two instances of a service. */
async function twoInstances<T>(provider: new (...args: any[]) => T): Promise<{ a: T; b: T; cacheA: NearCache; cacheB: NearCache; apps: INestApplication[] }> {
  const broker = new InProcessBroker();
  const apps = [
    await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))], providers: [provider] }),
    await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))], providers: [provider] }),
  ];
  return { a: apps[0]!.get(provider), b: apps[1]!.get(provider), cacheA: apps[0]!.get(NearCache), cacheB: apps[1]!.get(NearCache), apps };
}

afterEach(async () => {
  vi.restoreAllMocks();
  await closeApps();
});

describe('a cached method that re-enters its own key', () => {
  @Injectable()
  class Retrying {
    attempts = 0;

    /** Retries by recursion after an await: the inner call has the same key. */
    @Cached({ key: 'retry:{0}' })
    async load(id: string): Promise<string> {
      this.attempts++;
      await Promise.resolve();
      if (this.attempts < 3) return this.load(id);
      return `loaded ${id} after ${this.attempts}`;
    }

    helperCalls = 0;

    /** Re-enters through a helper whose promise is returned, not awaited. */
    @Cached({ key: 'chain:{0}' })
    async viaHelper(id: string): Promise<string> {
      return this.helper(id);
    }

    async helper(id: string): Promise<string> {
      this.helperCalls++;
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (this.helperCalls < 3) return this.viaHelper(id);
      return `chained ${id} after ${this.helperCalls}`;
    }
  }

  class BaseRepository {
    bodies = 0;

    @Cached()
    async find(id: number): Promise<{ id: number; from: string }> {
      this.bodies++;
      return { id, from: 'base' };
    }
  }

  @Injectable()
  class AuditedRepository extends BaseRepository {
    @Cached()
    override async find(id: number): Promise<{ id: number; from: string }> {
      await Promise.resolve();
      const found = await super.find(id);
      return { ...found, from: `audited ${found.from}` };
    }
  }

  it('runs the inner call instead of waiting on itself, then serves the result', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Retrying] });
    const service = app.get(Retrying);
    expect(await settlesWithin(service.load('a'))).toBe('loaded a after 3');
    // Later callers of that key are not stuck either: a hit.
    expect(await settlesWithin(service.load('a'))).toBe('loaded a after 3');
    expect(service.attempts).toBe(3);
    expect(app.get(NearCache).get('retry:a')).toBe('loaded a after 3');

    expect(await settlesWithin(service.viaHelper('b'))).toBe('chained b after 3');
    expect(await settlesWithin(service.viaHelper('b'))).toBe('chained b after 3');
    expect(service.helperCalls).toBe(3);
  });

  it('an override with @Cached that awaits before calling super.find() (same default key) completes', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [AuditedRepository] });
    const repository = app.get(AuditedRepository);
    expect(await settlesWithin(repository.find(1))).toEqual({ id: 1, from: 'audited base' });
    expect(await settlesWithin(repository.find(1))).toEqual({ id: 1, from: 'audited base' });
    expect(repository.bodies).toBe(1);
  });
});

describe('a method that returns a promise without saying so', () => {
  let bodies = 0;

  @Injectable()
  class Untyped {
    // Neither `async` nor a declared return type.
    @Cached({ key: 'all-products' })
    findAll() {
      bodies++;
      return Promise.resolve(['lamp', 'chair']);
    }
  }

  it('returns a promise on a hit of an entry another instance wrote, and runs once for concurrent first calls', async () => {
    bodies = 0;
    const { a, b, cacheA, cacheB } = await twoInstances(Untyped);
    // Another instance (or this service before a restart) wrote the entry.
    await cacheA.set('all-products', ['lamp', 'chair']);
    await waitFor(() => cacheB.has('all-products'), { message: 'the entry to reach B' });
    const onB = b.findAll();
    expect(onB).toBeInstanceOf(Promise);
    expect(await onB).toEqual(['lamp', 'chair']);
    const again = b.findAll();
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toEqual(['lamp', 'chair']);

    // First calls on A, concurrent, for a key not cached yet: one execution.
    await cacheA.delete('all-products');
    bodies = 0;
    const [first, second] = [a.findAll(), a.findAll()];
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBeInstanceOf(Promise);
    expect(await Promise.all([first, second])).toEqual([
      ['lamp', 'chair'],
      ['lamp', 'chair'],
    ]);
    expect(bodies).toBe(1);
  });
});

describe('results that are streams', () => {
  let bodies = 0;

  @Injectable()
  class Downloads {
    @Cached({ key: 'response:{0}' })
    async response(id: string): Promise<Response> {
      bodies++;
      return new Response(`body ${id}`);
    }

    @Cached({ key: 'web-stream:{0}' })
    async webStream(id: string): Promise<ReadableStream<string>> {
      bodies++;
      return new ReadableStream<string>({
        start(controller) {
          controller.enqueue(`chunk ${id}`);
          controller.close();
        },
      });
    }

    @Cached({ key: 'generator:{0}' })
    async *rows(id: string): AsyncGenerator<string> {
      bodies++;
      yield `row ${id}`;
    }
  }

  it('never stores a fetch Response, a ReadableStream or an async generator: each caller gets its own, unread', async () => {
    bodies = 0;
    const { a, cacheA, cacheB } = await twoInstances(Downloads);
    expect(await (await a.response('1')).text()).toBe('body 1');
    expect(await (await a.response('1')).text()).toBe('body 1');
    const read = async (stream: ReadableStream<string>): Promise<string[]> => {
      const chunks: string[] = [];
      for await (const chunk of stream as unknown as AsyncIterable<string>) chunks.push(chunk);
      return chunks;
    };
    expect(await read(await a.webStream('1'))).toEqual(['chunk 1']);
    expect(await read(await a.webStream('1'))).toEqual(['chunk 1']);
    const rows: string[] = [];
    for await (const row of a.rows('1')) rows.push(row);
    for await (const row of a.rows('1')) rows.push(row);
    expect(rows).toEqual(['row 1', 'row 1']);
    expect(bodies).toBe(6);
    await cacheA.flush();
    for (const key of ['response:1', 'web-stream:1', 'generator:1']) {
      expect(cacheA.has(key)).toBe(false);
      expect(cacheB.has(key)).toBe(false);
    }
  });

  it('concurrent callers of one key each get a stream of their own', async () => {
    bodies = 0;
    const { a } = await twoInstances(Downloads);
    const [first, second] = await Promise.all([a.response('2'), a.response('2')]);
    expect(first).not.toBe(second);
    expect(await first.text()).toBe('body 2');
    expect(await second.text()).toBe('body 2');
  });
});

/** A decorator of another library that wraps the method (tracing, metrics...). */
function Traced(): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => unknown;
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return original.apply(this, args);
    };
    return descriptor;
  };
}

describe('stacked decorators', () => {
  @Injectable()
  class Evicting {
    @CacheEvict({ key: 'product:{id}' })
    @CacheEvict({ key: 'product-page:{id}' })
    async update(id: string): Promise<void> {}
  }

  @Injectable()
  class Products {
    @Cached({ key: 'product:{id}' })
    @Traced()
    async tracedByName(id: string): Promise<string> {
      return `product ${id}`;
    }
  }

  @Injectable()
  class PositionalProducts {
    reads = 0;

    @Cached({ key: 'product:{0}' })
    @Traced()
    async find(id: string): Promise<string> {
      this.reads++;
      return `product ${id}`;
    }
  }

  @Injectable()
  class TracedAbove {
    reads = 0;

    @Traced()
    @Cached({ key: 'traced:{id}' })
    async find(id: string): Promise<string> {
      this.reads++;
      return `traced ${id}`;
    }
  }

  it("a cache decorator below another library's wrapper (which copies no metadata) is still bound, with named placeholders", async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [TracedAbove] });
    const traced = app.get(TracedAbove);
    expect(await traced.find('1')).toBe('traced 1');
    expect(await traced.find('1')).toBe('traced 1');
    expect(await traced.find('2')).toBe('traced 2');
    expect(traced.reads).toBe(2);
    expect(app.get(NearCache).get('traced:1')).toBe('traced 1');
  });

  it('two stacked @CacheEvict read the parameter names of the original method', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Evicting] });
    const cache = app.get(NearCache);
    await cache.set('product:1', 'old');
    await cache.set('product-page:1', 'old page');
    await cache.set('product:2', 'other');
    await app.get(Evicting).update('1');
    expect(cache.has('product:1')).toBe(false);
    expect(cache.has('product-page:1')).toBe(false);
    expect(cache.get('product:2')).toBe('other');
  });

  it('a named placeholder above a wrapper whose parameters read as (...args) fails the start; positions work', async () => {
    const failure = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Products] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UnresolvablePlaceholderError);
    expect((failure as Error).message).toMatch(/Products\.tracedByName/);
    expect((failure as Error).message).toMatch(/\{id\}/);
    expect((failure as Error).message).toMatch(/\.\.\.args/);
    expect((failure as Error).message).toMatch(/positions/);

    const positional = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [PositionalProducts] });
    const products = positional.get(PositionalProducts);
    expect(await products.find('1')).toBe('product 1');
    expect(await products.find('2')).toBe('product 2');
    expect(await products.find('1')).toBe('product 1');
    expect(products.reads).toBe(2);
  });
});

describe('default keys of arguments whose state is not in their own properties', () => {
  class Money {
    readonly #cents: number;
    constructor(cents: number) {
      this.#cents = cents;
    }
    get cents(): number {
      return this.#cents;
    }
  }

  let bodies = 0;

  @Injectable()
  class Search {
    @Cached()
    async byQuery(query: unknown): Promise<string> {
      bodies++;
      return describe(query);
    }
  }

  function describe(value: unknown): string {
    if (value instanceof Money) return `money ${value.cents}`;
    if (typeof value === 'function') return `function ${String(value())}`;
    return `${typeof value} ${String(value)}`;
  }

  it('serialises URLSearchParams, RegExp, Error, NaN and Date faithfully: different calls never share a result', async () => {
    bodies = 0;
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Search] });
    const search = app.get(Search);
    const pairs: Array<[unknown, unknown]> = [
      [new URLSearchParams('q=lamp'), new URLSearchParams('q=chair')],
      [/lamp/i, /chair/],
      [new Error('lamp'), new Error('chair')],
      [Number.NaN, 'NaN'],
      [new Date('2026-01-02T00:00:00.000Z'), '2026-01-02T00:00:00.000Z'],
      [Object.create({ inherited: 'lamp' }), {}],
    ];
    for (const [first, second] of pairs) {
      const one = await search.byQuery(first);
      const other = await search.byQuery(second);
      expect(other).toBe(describe(second));
      expect(one).toBe(describe(first));
    }
  });

  it('runs uncached, with one warning naming the method, when an argument cannot be serialised faithfully', async () => {
    bodies = 0;
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Search] });
    const search = app.get(Search);
    expect(await search.byQuery(new Money(100))).toBe('money 100');
    expect(await search.byQuery(new Money(200))).toBe('money 200');
    expect(await search.byQuery(() => 'a')).toBe('function a');
    expect(await search.byQuery(() => 'b')).toBe('function b');
    expect(bodies).toBe(4);
    expect(app.get(NearCache).size).toBe(0);
    const messages = warn.mock.calls.map((call) => String(call[0])).filter((m) => m.includes('Search.byQuery'));
    expect(messages.length).toBe(1);
    expect(messages[0]).toMatch(/no key could be built; the method runs uncached/);
  });

  it('gives up building a key past a bound (shared sub-objects) and runs the method uncached', async () => {
    bodies = 0;
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Search] });
    // 40 levels, each holding the next twice: 2^40 paths, 41 objects.
    let shared: Record<string, unknown> = { leaf: true };
    for (let level = 0; level < 40; level++) shared = { left: shared, right: shared };
    const search = app.get(Search);
    expect(await search.byQuery(shared)).toBe('object [object Object]');
    expect(await search.byQuery(shared)).toBe('object [object Object]');
    expect(bodies).toBe(2);
  });
});

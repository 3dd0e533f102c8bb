import { Injectable } from '@nestjs/common';
import { InProcessBroker, InvalidOptionError, NearCache } from '@nearcache/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheEvict, CachePut, Cached, NearCacheModule, UnresolvablePlaceholderError } from '../src/index.js';
import { closeApps, createApp, deferred, inProcess, waitFor } from './helpers.js';

interface Product {
  id: string;
  shop: string;
  price: number;
}

@Injectable()
class Catalog {
  readonly db = new Map<string, Product>();
  reads = 0;
  gate: Promise<void> | undefined;

  @Cached({ key: 'product:{id}', tags: ['products', 'shop:{shop}'] })
  async find(id: string, shop: string): Promise<Product | undefined> {
    this.reads++;
    await this.gate;
    return this.db.get(id);
  }

  @Cached({ key: 'plain:{0}' })
  async plain(id: string): Promise<string> {
    this.reads++;
    return `plain ${id}`;
  }

  @Cached({ key: 'opt:{0}', tags: (id: string, shop?: string) => (shop === undefined ? ['products'] : [`shop:${shop}`]) })
  async optional(id: string, shop?: string): Promise<string> {
    this.reads++;
    return `opt ${id}`;
  }

  @Cached({ key: 'maybe:{0}', tags: ['shop:{1}'] })
  async maybe(id: string, shop?: string): Promise<string> {
    this.reads++;
    return `maybe ${id}`;
  }

  @CacheEvict({ tags: ['shop:{shop}'] })
  async reprice(shop: string): Promise<void> {
    for (const product of this.db.values()) if (product.shop === shop) product.price++;
  }

  @CachePut({ key: 'product:{0}', tags: ['products', 'shop:{1}'] })
  async save(id: string, shop: string, price: number): Promise<Product> {
    const product = { id, shop, price };
    this.db.set(id, product);
    return product;
  }

  @CacheEvict({ tags: (all: boolean) => (all ? ['products'] : []) })
  async reload(all: boolean): Promise<void> {}
}

describe('@Cached({ tags }) and @CacheEvict({ tags })', () => {
  let catalog: Catalog;
  let cache: NearCache;

  beforeEach(async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Catalog] });
    catalog = app.get(Catalog);
    cache = app.get(NearCache);
    catalog.db.set('1', { id: '1', shop: 'a', price: 10 });
    catalog.db.set('2', { id: '2', shop: 'b', price: 20 });
  });
  afterEach(closeApps);

  it('evicting a tag removes the entries carrying it, whatever their keys, and keeps the others', async () => {
    await catalog.find('1', 'a');
    await catalog.find('2', 'b');
    await catalog.plain('x');
    await waitFor(() => cache.has('product:1') && cache.has('product:2'), { message: 'both products cached' });
    expect(catalog.reads).toBe(3);
    await catalog.reprice('a');
    expect(cache.has('product:1')).toBe(false);
    expect(cache.has('product:2')).toBe(true);
    expect((await catalog.find('1', 'a'))!.price).toBe(11);
    expect(catalog.reads).toBe(4);
    await catalog.reload(true);
    expect(cache.has('product:2')).toBe(false);
    expect(cache.has('plain:x')).toBe(true);
    await catalog.reload(false);
  });

  it('@CachePut stores with its tags, which a later eviction of them removes', async () => {
    await catalog.save('3', 'c', 30);
    await waitFor(() => cache.has('product:3'), { message: 'the put value cached' });
    await catalog.reprice('c');
    expect(cache.has('product:3')).toBe(false);
  });

  it('tags from a function of the arguments, and a tag placeholder undefined for a call: returned uncached', async () => {
    await catalog.optional('1');
    await catalog.optional('2', 'z');
    await waitFor(() => cache.has('opt:1') && cache.has('opt:2'), { message: 'both cached' });
    await cache.invalidateTags(['shop:z']);
    expect(cache.has('opt:1')).toBe(true);
    expect(cache.has('opt:2')).toBe(false);
    expect(await catalog.maybe('1')).toBe('maybe 1');
    expect(cache.has('maybe:1')).toBe(false);
    expect(await catalog.maybe('1', 'q')).toBe('maybe 1');
    await waitFor(() => cache.has('maybe:1'), { message: 'cached once the tag resolves' });
  });

  it('a call whose tag is invalidated while it runs returns its result and caches nothing', async () => {
    const gate = deferred<void>();
    catalog.gate = gate.promise;
    const running = catalog.find('1', 'a');
    await catalog.reprice('a');
    gate.resolve();
    expect((await running)!.price).toBe(11);
    expect(cache.has('product:1')).toBe(false);
    catalog.gate = undefined;
    await catalog.find('1', 'a');
    await waitFor(() => cache.has('product:1'), { message: 'cached by the next call' });
  });
});

describe('tag options are checked', () => {
  it('when the decorator is applied', () => {
    expect(() => Cached({ tags: 'products' as any })).toThrow(InvalidOptionError);
    expect(() => Cached({ tags: [''] })).toThrow(InvalidOptionError);
    expect(() => CacheEvict({ tags: ['a\nb'] })).toThrow(InvalidOptionError);
    expect(() => CacheEvict({ tags: ['a'], key: 'k' })).toThrow(InvalidOptionError);
  });

  it('a tag template that can never resolve fails the start', async () => {
    @Injectable()
    class Broken {
      @Cached({ key: 'k:{0}', tags: ['shop:{shopId}'] })
      async find(id: string, shop: string): Promise<string> {
        return id + shop;
      }
    }
    const failure = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Broken] }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure).toBeInstanceOf(UnresolvablePlaceholderError);
    expect(failure!.message).toContain('{shopId}');
  });
});

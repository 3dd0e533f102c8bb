import { Injectable, Logger } from '@nestjs/common';
import { InProcessBroker, NearCache } from '@nearcache/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheEvict, CachePut, Cached, NearCacheModule, UnresolvablePlaceholderError } from '../src/index.js';
import { closeApps, createApp, inProcess } from './helpers.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await closeApps();
});

/** The error the start fails with for `provider` (before the cache is created), or undefined when it starts. */
async function startFailure(provider: new (...args: any[]) => unknown): Promise<Error | undefined> {
  return createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [provider] }).then(
    () => undefined,
    (error: unknown) => error as Error,
  );
}

interface User {
  id: string;
  name: string;
}

describe('a placeholder that can never resolve fails the start', () => {
  @Injectable()
  class Orders {
    // `{id}` is meant as the order id, but no parameter is called id: the property fallback
    // would read `user.id` and serve one user's first order for all of their orders.
    @Cached({ key: 'order:{id}' })
    async find(user: User, orderId: string): Promise<string> {
      return `order ${orderId} of ${user.name}`;
    }
  }

  @Injectable()
  class Products {
    @Cached({ key: 'wrong:{productId}' })
    async find(id: string): Promise<string> {
      return `product ${id}`;
    }
  }

  @Injectable()
  class Pages {
    @CacheEvict({ key: 'page:{2}' })
    async update(id: string, page: number): Promise<void> {}
  }

  @Injectable()
  class Minified {
    // What a minifier leaves of `find(id: string, locale: string)`.
    @CachePut({ key: 'item:{id}:{locale}' })
    async find(t: string, e: string): Promise<string> {
      return `${t} ${e}`;
    }
  }

  it('naming the class, the method, the placeholder and the parameters (no parameter of that name, two parameters)', async () => {
    const failure = await startFailure(Orders);
    expect(failure).toBeInstanceOf(UnresolvablePlaceholderError);
    expect(failure!.message).toContain('Orders.find');
    expect(failure!.message).toContain('{id}');
    expect(failure!.message).toContain('(user, orderId)');
  });

  it('when the only parameter is a string, which has no such property', async () => {
    const failure = await startFailure(Products);
    expect(failure).toBeInstanceOf(UnresolvablePlaceholderError);
    expect(failure!.message).toContain('Products.find');
    expect(failure!.message).toContain('{productId}');
    expect(failure!.message).toContain('(id)');
  });

  it('for a position past the last parameter', async () => {
    const failure = await startFailure(Pages);
    expect(failure).toBeInstanceOf(UnresolvablePlaceholderError);
    expect(failure!.message).toMatch(/Pages\.update.*\{2\}.*\(id, page\)/s);
  });

  it('for minified parameter names, saying to use positions or a key function', async () => {
    const failure = await startFailure(Minified);
    expect(failure).toBeInstanceOf(UnresolvablePlaceholderError);
    expect(failure!.message).toContain('Minified.find');
    expect(failure!.message).toContain('(t, e)');
    expect(failure!.message).toMatch(/use positions or a key function/);
  });
});

describe('the property fallback, where it still applies', () => {
  @Injectable()
  class Accounts {
    bodies = 0;

    @Cached({ key: 'account:{id}' })
    async byDto(dto: { id: string; region: string }): Promise<string> {
      this.bodies++;
      return `account ${dto.id}`;
    }

    @Cached({ key: 'account-region:{region}' })
    async destructured({ region }: { id: string; region: string }): Promise<string> {
      this.bodies++;
      return `region ${region}`;
    }
  }

  it('{name} is a property of the only parameter, an object, when no parameter has that name', async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Accounts] });
    const accounts = app.get(Accounts);
    expect(await accounts.byDto({ id: 'a1', region: 'eu' })).toBe('account a1');
    expect(await accounts.byDto({ id: 'a2', region: 'eu' })).toBe('account a2');
    expect(await accounts.destructured({ id: 'a1', region: 'eu' })).toBe('region eu');
    expect(await accounts.destructured({ id: 'a2', region: 'eu' })).toBe('region eu');
    expect(accounts.bodies).toBe(3);
    expect(app.get(NearCache).get('account:a2')).toBe('account a2');
  });
});

describe('a placeholder that resolves to undefined or null for a call', () => {
  @Injectable()
  class Users {
    bodies = 0;

    @Cached({ key: 'user:{filter.id}' })
    async find(filter: { id?: string | null; name: string }): Promise<string> {
      this.bodies++;
      return `user ${filter.id ?? 'without id'} named ${filter.name}`;
    }

    @CacheEvict({ key: 'user:{0}' })
    async remove(id?: string): Promise<void> {}
  }

  it('never produces a key: the method runs uncached (never one key for every call), with one warning per method', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [Users] });
    const users = app.get(Users);
    const cache = app.get(NearCache);
    // Before: both built "user:undefined", and Grace was served Ada's result.
    expect(await users.find({ name: 'Ada' })).toBe('user without id named Ada');
    expect(await users.find({ name: 'Grace' })).toBe('user without id named Grace');
    expect(await users.find({ id: null, name: 'Hedy' })).toBe('user without id named Hedy');
    expect(users.bodies).toBe(3);
    expect(cache.size).toBe(0);
    expect(await users.find({ id: 'u1', name: 'Ada' })).toBe('user u1 named Ada');
    expect(cache.has('user:u1')).toBe(true);

    await cache.set('user:undefined', 'kept');
    await users.remove();
    expect(cache.get('user:undefined')).toBe('kept');

    const messages = warn.mock.calls.map((call) => String(call[0]));
    const onFind = messages.filter((m) => m.includes('Users.find'));
    expect(onFind).toHaveLength(1);
    expect(onFind[0]).toContain('@Cached on Users.find');
    expect(onFind[0]).toContain('"user:{filter.id}"');
    expect(messages.filter((m) => m.includes('@CacheEvict on Users.remove') && m.includes('"user:{0}"'))).toHaveLength(1);
  });
});

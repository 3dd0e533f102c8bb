import { Injectable } from '@nestjs/common';
import { InProcessBroker, NearCache } from '@nearcache/core';
import { firstValueFrom, lastValueFrom, Observable, Subject, throwError } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheEvict, CachePut, Cached, NearCacheModule } from '../src/index.js';
import { closeApps, createApp, inProcess, waitFor } from './helpers.js';

interface User {
  id: string;
  name: string;
}

@Injectable()
class UsersService {
  readonly db = new Map<string, User>();
  reads = 0;

  @Cached({ key: 'user:{id}' })
  async findOne(id: string): Promise<User | undefined> {
    this.reads++;
    return this.db.get(id);
  }

  @CacheEvict({ key: 'user:{id}' })
  async rename(id: string, name: string): Promise<void> {
    this.db.set(id, { id, name });
  }

  @CacheEvict({ key: 'user:{id}' })
  async failingUpdate(id: string): Promise<void> {
    throw new Error(`cannot update ${id}`);
  }

  @CacheEvict({ key: 'user:{id}', beforeInvocation: true })
  async failingUpdateEvictingFirst(id: string): Promise<void> {
    throw new Error(`cannot update ${id}`);
  }

  @CacheEvict({ keys: ['user:{0}', 'user:{1}'] })
  swap(a: string, b: string): void {
    const [ua, ub] = [this.db.get(a)!, this.db.get(b)!];
    this.db.set(a, { ...ub, id: a });
    this.db.set(b, { ...ua, id: b });
  }

  @CacheEvict({ prefix: 'user:' })
  async reload(): Promise<void> {}

  @CacheEvict({ allEntries: true })
  clearAll(): void {}

  @CacheEvict({ key: 'user:{id}', condition: (id: string) => id !== 'keep' })
  async maybeEvict(id: string): Promise<void> {}

  @CachePut({ key: 'user:{0}' })
  async save(id: string, name: string): Promise<User> {
    const user = { id, name };
    this.db.set(id, user);
    return user;
  }

  @CachePut({ key: 'user:{user.id}', unless: (saved: User) => saved.name === '' })
  saveSync(user: User): User {
    this.db.set(user.id, user);
    return user;
  }

  @CachePut({ key: 'user:{0}' })
  async failingSave(id: string): Promise<User> {
    throw new Error(`cannot save ${id}`);
  }

  /** What `HttpService` returns: an Observable that does the work when subscribed to. */
  @CacheEvict({ key: 'user:{id}' })
  renameRemotely(id: string, name: string, done: Subject<void>): Observable<User> {
    return new Observable<User>((subscriber) => {
      const subscription = done.subscribe({
        complete: () => {
          this.db.set(id, { id, name });
          subscriber.next({ id, name });
          subscriber.complete();
        },
        error: (error: unknown) => subscriber.error(error),
      });
      return () => subscription.unsubscribe();
    });
  }

  @CacheEvict({ key: 'user:{id}' })
  failingRemoteUpdate(id: string): Observable<User> {
    return throwError(() => new Error(`cannot update ${id} remotely`));
  }
}

describe('@CacheEvict and @CachePut', () => {
  let users: UsersService;
  let cache: NearCache;

  beforeEach(async () => {
    const app = await createApp({ imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], providers: [UsersService] });
    users = app.get(UsersService);
    cache = app.get(NearCache);
    users.db.set('1', { id: '1', name: 'Ada' });
    users.db.set('2', { id: '2', name: 'Grace' });
  });
  afterEach(closeApps);

  it('@CacheEvict removes the key after the method succeeded, so the next read sees the change', async () => {
    expect(await users.findOne('1')).toEqual({ id: '1', name: 'Ada' });
    await users.rename('1', 'Ada Lovelace');
    expect(cache.has('user:1')).toBe(false);
    expect(await users.findOne('1')).toEqual({ id: '1', name: 'Ada Lovelace' });
    expect(users.reads).toBe(2);
  });

  it('@CacheEvict evicts nothing when the method throws, unless beforeInvocation is set', async () => {
    await users.findOne('1');
    await expect(users.failingUpdate('1')).rejects.toThrow('cannot update 1');
    expect(cache.has('user:1')).toBe(true);
    await expect(users.failingUpdateEvictingFirst('1')).rejects.toThrow('cannot update 1');
    expect(cache.has('user:1')).toBe(false);
  });

  it('@CacheEvict removes several keys, a prefix, or every entry', async () => {
    await users.findOne('1');
    await users.findOne('2');
    users.swap('1', '2');
    expect(cache.has('user:1') || cache.has('user:2')).toBe(false);

    await users.findOne('1');
    await users.findOne('2');
    await cache.set('other', 'kept');
    await users.reload();
    expect(cache.has('user:1') || cache.has('user:2')).toBe(false);
    expect(cache.get('other')).toBe('kept');

    users.clearAll();
    expect(cache.has('other')).toBe(false);
  });

  it('@CacheEvict honours its condition', async () => {
    await cache.set('user:keep', { id: 'keep', name: 'x' });
    await cache.set('user:drop', { id: 'drop', name: 'y' });
    await users.maybeEvict('keep');
    await users.maybeEvict('drop');
    expect(cache.has('user:keep')).toBe(true);
    expect(cache.has('user:drop')).toBe(false);
  });

  it('@CacheEvict on an Observable evicts when it completes: not when the method is called, and not when it errors', async () => {
    await users.findOne('1');
    const done = new Subject<void>();
    const update = users.renameRemotely('1', 'Ada Lovelace', done);
    // Called, not subscribed yet: a read meanwhile still finds the entry, and it is not refilled with stale data later.
    expect(cache.has('user:1')).toBe(true);
    const result = lastValueFrom(update);
    expect(cache.has('user:1')).toBe(true);
    done.complete();
    expect(await result).toEqual({ id: '1', name: 'Ada Lovelace' });
    expect(cache.has('user:1')).toBe(false);
    expect(await users.findOne('1')).toEqual({ id: '1', name: 'Ada Lovelace' });

    await expect(firstValueFrom(users.failingRemoteUpdate('1'))).rejects.toThrow('cannot update 1 remotely');
    expect(cache.has('user:1')).toBe(true);
  });

  it('@CachePut always runs the method and stores its result, which @Cached then serves', async () => {
    await users.findOne('1');
    expect(await users.save('1', 'Ada Byron')).toEqual({ id: '1', name: 'Ada Byron' });
    expect(await users.save('1', 'Ada King')).toEqual({ id: '1', name: 'Ada King' });
    expect(cache.get('user:1')).toEqual({ id: '1', name: 'Ada King' });
    expect(await users.findOne('1')).toEqual({ id: '1', name: 'Ada King' });
    expect(users.reads).toBe(1);
  });

  it('@CachePut stores sync results, honours unless, and stores nothing when the method throws', async () => {
    users.saveSync({ id: '3', name: 'Hedy' });
    expect(cache.get('user:3')).toEqual({ id: '3', name: 'Hedy' });
    users.saveSync({ id: '4', name: '' });
    expect(cache.has('user:4')).toBe(false);
    await expect(users.failingSave('5')).rejects.toThrow('cannot save 5');
    expect(cache.has('user:5')).toBe(false);
  });
});

describe('@CacheEvict and @CachePut across two applications on one log', () => {
  afterEach(closeApps);

  it('an eviction or a put on one instance reaches the other', async () => {
    const broker = new InProcessBroker();
    const appA = await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))], providers: [UsersService] });
    const appB = await createApp({ imports: [NearCacheModule.forRoot(inProcess(broker))], providers: [UsersService] });
    const [a, b] = [appA.get(UsersService), appB.get(UsersService)];
    const cacheA = appA.get(NearCache);
    a.db.set('1', { id: '1', name: 'Ada' });

    await a.findOne('1');
    await waitFor(() => appB.get(NearCache).has('user:1'), { message: 'user:1 on B' });
    expect(await b.findOne('1')).toEqual({ id: '1', name: 'Ada' });
    expect(b.reads).toBe(0);

    await b.rename('1', 'Ada Lovelace');
    await waitFor(() => !cacheA.has('user:1'), { message: 'the eviction to reach A' });

    await b.save('1', 'Countess');
    await waitFor(() => cacheA.has('user:1'), { message: 'the put to reach A' });
    expect(await a.findOne('1')).toEqual({ id: '1', name: 'Countess' });
  });
});

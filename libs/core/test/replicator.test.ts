import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheClosedError, LogUnavailableError, NearCacheError, ReplicationTimeoutError, WriteQueueFullError, WriteRejectedError } from '../src/index.js';
// The replicator is internal (not exported from the package entry point): tested directly here.
import { Replicator, type QueuedWrite } from '../src/replicator.js';
import { tick, track, waitFor } from './helpers.js';

interface W extends QueuedWrite {
  value: string;
}

function w(queueKey: string, value: string, writeId = 0): W {
  return { queueKey, writeId, waiters: undefined, value };
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: unknown): void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A fake log: records every send attempt; `behaviour` decides how each attempt ends. */
function fakeLog(behaviour: (batch: W[], attempt: number) => Promise<void> | void = () => undefined) {
  const attempts: string[][] = [];
  const sent: string[] = [];
  const hooks = {
    send: vi.fn(async (batch: W[]) => {
      const attempt = attempts.length;
      attempts.push(batch.map((x) => `${x.queueKey}=${x.value}`));
      await behaviour(batch, attempt);
      sent.push(...batch.map((x) => `${x.queueKey}=${x.value}`));
    }),
    superseded: vi.fn((_write: W) => undefined),
    dropped: vi.fn((_write: W, _error: NearCacheError) => undefined),
    failing: vi.fn((_error: NearCacheError) => undefined),
    recovered: vi.fn(() => undefined),
  };
  return { hooks, attempts, sent };
}

const replicators: Array<Replicator<W>> = [];
/** A write's size for the byte bound: its value's length (so tests can reason in characters). */
const valueSize = (write: W): number => write.value.length;
function replicator(hooks: ReturnType<typeof fakeLog>['hooks'], limits: { maxQueued?: number; maxBatch?: number; maxBatchBytes?: number } = {}): Replicator<W> {
  const r = new Replicator<W>(hooks, {
    maxQueued: limits.maxQueued ?? 100,
    maxBatch: limits.maxBatch ?? 100,
    maxBatchBytes: limits.maxBatchBytes ?? 1_000_000,
    size: valueSize,
  });
  replicators.push(r);
  return r;
}

afterEach(async () => {
  await Promise.all(replicators.splice(0).map((r) => r.close(0)));
});

describe('Replicator', () => {
  it('sends nothing before start(), then everything queued', async () => {
    const log = fakeLog();
    const r = replicator(log.hooks);
    r.enqueue(w('a', '1'));
    await tick();
    await tick();
    expect(log.hooks.send).not.toHaveBeenCalled();
    expect(r.depth).toBe(1);
    r.start();
    await r.flush(5000);
    expect(log.attempts).toEqual([['a=1']]);
    expect(r.depth).toBe(0);
  });

  it('coalesces writes of one key made in one tick into one record with the last value', async () => {
    const log = fakeLog();
    const r = replicator(log.hooks);
    r.start();
    const first = r.enqueue(w('k', '1', 1));
    const ack = r.acknowledged(first, 5000);
    r.enqueue(w('k', '2', 2));
    r.enqueue(w('k', '3', 3));
    expect(r.depth).toBe(1);
    await r.flush(5000);
    expect(log.attempts).toEqual([['k=3']]);
    // The replaced writes are reported as superseded, in order.
    expect(log.hooks.superseded.mock.calls.map(([x]) => x.value)).toEqual(['1', '2']);
    // A waiter of a replaced write is settled by the write that replaced it.
    await expect(ack).resolves.toBeUndefined();
  });

  it('keeps the order of writes across keys', async () => {
    const log = fakeLog();
    const r = replicator(log.hooks);
    r.start();
    for (let i = 0; i < 10; i++) r.enqueue(w(`k${i}`, String(i)));
    await r.flush(5000);
    expect(log.sent).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}=${i}`));
  });

  it('splits into batches of maxBatch, in order', async () => {
    const log = fakeLog();
    const r = replicator(log.hooks, { maxBatch: 3 });
    r.start();
    for (let i = 0; i < 10; i++) r.enqueue(w(`k${i}`, String(i)));
    await r.flush(5000);
    expect(log.attempts).toEqual([['k0=0', 'k1=1', 'k2=2'], ['k3=3', 'k4=4', 'k5=5'], ['k6=6', 'k7=7', 'k8=8'], ['k9=9']]);
  });

  it('bounds a batch by bytes too; a single write larger than the bound still goes, alone', async () => {
    const log = fakeLog();
    const r = replicator(log.hooks, { maxBatchBytes: 10 });
    r.start();
    r.enqueue(w('a', 'xxxx'));
    r.enqueue(w('b', 'xxxx'));
    r.enqueue(w('c', 'xxxx'));
    r.enqueue(w('big', 'x'.repeat(25)));
    r.enqueue(w('d', 'xx'));
    await r.flush(5000);
    expect(log.attempts.map((batch) => batch.map((x) => x.split('=')[0]))).toEqual([['a', 'b'], ['c'], ['big'], ['d']]);
  });

  it('keeps order relative to clears: a key written again after a clear goes after the clear', async () => {
    const log = fakeLog();
    const r = replicator(log.hooks);
    r.start();
    r.enqueue(w('a', 'old'));
    r.enqueue(w('b', '1'));
    r.enqueue(w('\u0000clear:', 'clear'));
    r.enqueue(w('a', 'new'));
    await r.flush(5000);
    expect(log.sent).toEqual(['b=1', '\u0000clear:=clear', 'a=new']);
    expect(log.sent.indexOf('a=new')).toBeGreaterThan(log.sent.indexOf('\u0000clear:=clear'));
  });

  it('has one append in flight at a time; the next batch collects what was written meanwhile', async () => {
    const gates: Array<ReturnType<typeof deferred>> = [];
    const log = fakeLog(() => {
      const gate = deferred();
      gates.push(gate);
      return gate.promise;
    });
    const r = replicator(log.hooks);
    r.start();
    r.enqueue(w('a', '1'));
    await waitFor(() => log.attempts.length === 1, { message: 'first send' });
    expect(r.inFlight).toBe(1);
    r.enqueue(w('b', '1'));
    r.enqueue(w('c', '1'));
    r.enqueue(w('b', '2'));
    for (let i = 0; i < 5; i++) await tick();
    expect(log.attempts).toHaveLength(1);
    expect(r.depth).toBe(3);
    gates[0]!.resolve();
    await waitFor(() => log.attempts.length === 2, { message: 'second send' });
    expect(log.attempts[1]).toEqual(['c=1', 'b=2']);
    gates[1]!.resolve();
    await r.flush(5000);
    expect(log.sent).toEqual(['a=1', 'c=1', 'b=2']);
  });

  describe('admit()', () => {
    it('throws WriteQueueFullError beyond maxQueued keys, but a queued key still coalesces', async () => {
      const log = fakeLog();
      const r = replicator(log.hooks, { maxQueued: 2 });
      r.admit('a');
      r.enqueue(w('a', '1'));
      r.admit('b');
      r.enqueue(w('b', '1'));
      let error: unknown;
      try {
        r.admit('c');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WriteQueueFullError);
      expect((error as WriteQueueFullError).code).toBe('NC_QUEUE_FULL');
      expect((error as WriteQueueFullError).retriable).toBe(true);
      expect(r.depth).toBe(2);
      expect(() => r.admit('a')).not.toThrow();
      r.enqueue(w('a', '2'));
      expect(r.depth).toBe(2);
      r.start();
      await r.flush(5000);
      expect(log.sent).toEqual(['b=1', 'a=2']);
      // Room again once sent.
      expect(() => r.admit('c')).not.toThrow();
    });
  });

  describe('failures', () => {
    it('retries failed sends in order and loses no write', async () => {
      let failuresLeft = 2;
      const log = fakeLog(() => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new LogUnavailableError('broker down', { retriable: true });
        }
      });
      const rep = replicator(log.hooks);
      // Writes made while the log is failing join the queue behind the failed batch.
      log.hooks.failing.mockImplementationOnce(() => {
        rep.enqueue(w('c', '1'));
        rep.enqueue(w('a', '2'));
      });
      rep.start();
      const a1 = rep.enqueue(w('a', '1'));
      const ackA1 = rep.acknowledged(a1, 10_000);
      rep.enqueue(w('b', '1'));
      await rep.flush(10_000);
      await expect(ackA1).resolves.toBeUndefined();
      expect(log.attempts).toEqual([
        ['a=1', 'b=1'],
        ['b=1', 'c=1', 'a=2'],
        ['b=1', 'c=1', 'a=2'],
      ]);
      expect(log.sent).toEqual(['b=1', 'c=1', 'a=2']);
      expect(log.hooks.failing).toHaveBeenCalledTimes(2);
      expect(log.hooks.failing.mock.calls[0]![0]).toBeInstanceOf(LogUnavailableError);
      expect(log.hooks.recovered).toHaveBeenCalledTimes(1);
      expect(log.hooks.dropped).not.toHaveBeenCalled();
    });

    it('puts a failed batch back before later writes, unless a later write of the same key replaced it', async () => {
      const gate = deferred();
      const log = fakeLog((_batch, attempt) => (attempt === 0 ? gate.promise : undefined));
      const r = replicator(log.hooks);
      r.start();
      const a1 = r.enqueue(w('a', '1'));
      const ackA1 = r.acknowledged(a1, 10_000);
      r.enqueue(w('b', '1'));
      await waitFor(() => log.attempts.length === 1, { message: 'first send' });
      r.enqueue(w('c', '1'));
      r.enqueue(w('a', '2'));
      gate.reject(new LogUnavailableError('timeout', { retriable: true }));
      await r.flush(10_000);
      await expect(ackA1).resolves.toBeUndefined();
      expect(log.attempts).toEqual([
        ['a=1', 'b=1'],
        ['b=1', 'c=1', 'a=2'],
      ]);
      // a=1 was in flight when a=2 was queued: it is superseded when the failed batch is put back.
      expect(log.hooks.superseded.mock.calls.map(([x]) => `${x.queueKey}=${x.value}`)).toEqual(['a=1']);
    });

    it.each([
      { name: 'a WriteRejectedError (retriable: false)', error: () => new WriteRejectedError('record too large', { retriable: false }) },
      { name: 'a plain Error', error: () => new Error('boom') },
    ])('a permanent failure with $name isolates the bad write; the others are still sent', async ({ error }) => {
      const log = fakeLog((batch) => {
        if (batch.some((x) => x.queueKey === 'bad')) throw error();
      });
      const r = replicator(log.hooks);
      r.start();
      const writes = ['a', 'bad', 'c'].map((key) => r.enqueue(w(key, '1')));
      const acks = writes.map((x) => track(r.acknowledged(x, 10_000)));
      await waitFor(() => acks.every((a) => a.settled), { timeout: 10_000, message: 'all writes settled' });
      expect(log.sent).toEqual(['a=1', 'c=1']);
      expect(log.attempts[0]).toEqual(['a=1', 'bad=1', 'c=1']);
      expect(log.attempts.slice(1)).toEqual([['a=1'], ['bad=1'], ['c=1']]);
      expect(log.hooks.dropped).toHaveBeenCalledTimes(1);
      const [droppedWrite, droppedError] = log.hooks.dropped.mock.calls[0]!;
      expect(droppedWrite.queueKey).toBe('bad');
      expect(droppedError).toBeInstanceOf(WriteRejectedError);
      expect(droppedError.retriable).toBe(false);
      expect(acks[0]!.error).toBeUndefined();
      expect(acks[1]!.error).toBeInstanceOf(WriteRejectedError);
      expect(acks[2]!.error).toBeUndefined();
      expect(r.depth).toBe(0);
      // Later writes are sent normally.
      r.enqueue(w('d', '1'));
      await r.flush(5000);
      expect(log.sent).toEqual(['a=1', 'c=1', 'd=1']);
    });
  });

  describe('acknowledged()', () => {
    it('resolves only after the send resolved', async () => {
      const gate = deferred();
      const log = fakeLog(() => gate.promise);
      const r = replicator(log.hooks);
      r.start();
      const write = r.enqueue(w('a', '1'));
      const ack = track(r.acknowledged(write, 5000));
      await waitFor(() => log.attempts.length === 1, { message: 'send called' });
      for (let i = 0; i < 5; i++) await tick();
      expect(ack.settled).toBe(false);
      gate.resolve();
      await expect(ack.promise).resolves.toBeUndefined();
      expect(log.sent).toEqual(['a=1']);
    });

    it('rejects with ReplicationTimeoutError when the send hangs; the write stays in flight', async () => {
      const log = fakeLog(() => new Promise<void>(() => undefined));
      const r = replicator(log.hooks);
      r.start();
      const write = r.enqueue(w('a', '1'));
      const error = await r.acknowledged(write, 50).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicationTimeoutError);
      expect((error as ReplicationTimeoutError).code).toBe('NC_REPLICATION_TIMEOUT');
      expect((error as ReplicationTimeoutError).retriable).toBe(true);
      expect(r.depth).toBe(1);
      expect(r.inFlight).toBe(1);
    });
  });

  describe('flush()', () => {
    it('resolves at once when nothing is queued', async () => {
      const r = replicator(fakeLog().hooks);
      r.start();
      await expect(r.flush(5000)).resolves.toBeUndefined();
    });

    it('waits for the write in flight and the writes queued behind it', async () => {
      const gates: Array<ReturnType<typeof deferred>> = [];
      const log = fakeLog(() => {
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      });
      const r = replicator(log.hooks);
      r.start();
      r.enqueue(w('a', '1'));
      await waitFor(() => log.attempts.length === 1, { message: 'first send' });
      r.enqueue(w('b', '1'));
      const flushed = track(r.flush(5000));
      gates[0]!.resolve();
      await waitFor(() => log.attempts.length === 2, { message: 'second send' });
      await tick();
      expect(flushed.settled).toBe(false);
      gates[1]!.resolve();
      await expect(flushed.promise).resolves.toBeUndefined();
      expect(log.sent).toEqual(['a=1', 'b=1']);
    });

    it('does not wait for writes made after it was called', async () => {
      const gates: Array<ReturnType<typeof deferred>> = [];
      const log = fakeLog(() => {
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      });
      const r = replicator(log.hooks);
      r.start();
      r.enqueue(w('a', '1'));
      await waitFor(() => log.attempts.length === 1, { message: 'first send' });
      const flushed = track(r.flush(5000));
      r.enqueue(w('b', '1'));
      gates[0]!.resolve();
      await expect(flushed.promise).resolves.toBeUndefined();
      expect(log.sent).toEqual(['a=1']);
    });

    it('rejects with ReplicationTimeoutError when the log does not answer', async () => {
      const r = replicator(fakeLog(() => new Promise<void>(() => undefined)).hooks);
      r.start();
      r.enqueue(w('a', '1'));
      r.enqueue(w('b', '1'));
      await expect(r.flush(50)).rejects.toBeInstanceOf(ReplicationTimeoutError);
      expect(r.depth).toBe(2);
    });
  });

  describe('close()', () => {
    it('rejects the waiters of writes left over with CacheClosedError and reports how many were left', async () => {
      const r = replicator(fakeLog().hooks);
      const a = r.enqueue(w('a', '1'));
      r.enqueue(w('b', '1'));
      const ack = track(r.acknowledged(a, 10_000));
      const flushed = track(r.flush(10_000));
      await expect(r.close(0)).resolves.toBe(2);
      await waitFor(() => ack.settled && flushed.settled, { message: 'waiters settled' });
      expect(ack.error).toBeInstanceOf(CacheClosedError);
      expect((ack.error as CacheClosedError).code).toBe('NC_CLOSED');
      expect(flushed.error).toBeInstanceOf(CacheClosedError);
      expect(r.depth).toBe(0);
    });

    it('rejects the waiters of a write in flight when the send hangs past the close timeout', async () => {
      const log = fakeLog(() => new Promise<void>(() => undefined));
      const r = replicator(log.hooks);
      r.start();
      const a = r.enqueue(w('a', '1'));
      const ack = track(r.acknowledged(a, 10_000));
      await waitFor(() => log.attempts.length === 1, { message: 'send called' });
      await expect(r.close(20)).resolves.toBe(1);
      await waitFor(() => ack.settled, { message: 'waiter settled' });
      expect(ack.error).toBeInstanceOf(CacheClosedError);
    });

    it('flushes queued writes first when the log answers', async () => {
      const log = fakeLog();
      const r = replicator(log.hooks);
      r.start();
      r.enqueue(w('a', '1'));
      r.enqueue(w('b', '1'));
      await expect(r.close(5000)).resolves.toBe(0);
      expect(log.sent).toEqual(['a=1', 'b=1']);
    });

    it('stops retrying: no send after close', async () => {
      const log = fakeLog(() => {
        throw new LogUnavailableError('down', { retriable: true });
      });
      const r = replicator(log.hooks);
      r.start();
      r.enqueue(w('a', '1'));
      await waitFor(() => log.hooks.failing.mock.calls.length >= 1, { message: 'first failure' });
      await r.close(0);
      const attempts = log.attempts.length;
      r.enqueue(w('b', '1'));
      for (let i = 0; i < 5; i++) await tick();
      expect(log.attempts.length).toBe(attempts);
    });
  });
});

import { spawn } from 'node:child_process';
import type { CacheState, RejectedRecord } from '../../cache.js';
import type { ContractSection } from '../contract.js';
import { chaos } from '../chaos.js';
import { foreignSet, recordMeta } from '../records.js';
import { waitFor } from '../support.js';

/** Bad records, observability, the stall watchdog, compaction of a writer's own records, clean close. */
export const robustnessSections: ContractSection[] = [
  {
    number: 8,
    title: 'bad records are skipped, counted and reported',
    register({ it, openReady, harness, t: { expect } }) {
      it('skips malformed, unknown-version, header-less, prototype-polluting and oversized records and keeps going', async () => {
        const topic = await harness().newTopic();
        const cache = await openReady(topic, { maxValueBytes: 1024 });
        await cache.set('k', 'good');
        await cache.flush();
        const rejected: RejectedRecord[] = [];
        cache.on('rejected', (record: RejectedRecord) => rejected.push(record));
        const poison = [
          foreignSet('k', undefined, { payload: Buffer.from([0xff, 0x00, 0x7b, 0x22]) }),
          foreignSet('k', 'v9', { version: '9' }),
          { key: 'k', value: '"no headers"' },
          foreignSet('k', undefined, { payload: '{"__proto__":{"polluted":"yes"}}' }),
          foreignSet('k', 'y'.repeat(2000)),
        ];
        const offsets = await harness().produce(topic, poison);
        await harness().produce(topic, [foreignSet('other', 'fine')]);
        await waitFor(() => cache.get('other') === 'fine', { message: 'the consumer to go past the bad records' });
        expect(cache.get('k')).toBe('good');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(rejected.map((r) => r.offset)).toEqual(offsets);
        expect(rejected.map((r) => r.reason)).toEqual(['decode-failed', 'unknown-version', 'missing-header', 'decode-failed', 'value-too-large']);
        const stats = cache.stats();
        expect(stats.records.rejected).toBe(5);
        expect(stats.records.rejectedByReason).toEqual({ 'decode-failed': 2, 'unknown-version': 1, 'missing-header': 1, 'value-too-large': 1 });
        expect(stats.records.lastRejected.map((r) => r.offset)).toEqual(offsets);
        expect(stats.state).toBe('live');
      });
    },
  },
  {
    number: 9,
    title: 'observable',
    register({ it, open, openReady, harness, t: { expect } }) {
      it('reports state changes, hits and misses, and per-partition lag', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = open(topic, { log });
        const states: CacheState[] = [];
        a.on('state', (state: CacheState) => states.push(state));
        await a.ready();
        expect(states).toEqual(['bootstrapping', 'live']);
        const b = await openReady(topic);
        log.last!.hold();
        for (let i = 0; i < 20; i++) await b.set(`lag-${i}`, i);
        await b.flush();
        await waitFor(() => a.stats().partitions[0]!.lagRecords >= 20, { message: 'the lag to show on the held instance' });
        await waitFor(() => a.stats().partitions[0]!.lagMs > 0, { message: 'the lag in ms to grow' });
        log.last!.release();
        await waitFor(() => a.stats().partitions[0]!.lagRecords === 0, { message: 'the lag to go back to 0' });
        expect(a.get('lag-0')).toBe(0);
        expect(a.get('missing')).toBeUndefined();
        const stats = a.stats();
        expect(stats.hits).toBe(1);
        expect(stats.misses).toBe(1);
        expect(stats.partitions[0]!.lagMs).toBe(0);
        await a.close();
        expect(states.at(-1)).toBe('closed');
      });
    },
  },
  {
    number: 11,
    title: 'stall watchdog',
    register({ it, openReady, harness, t: { expect } }) {
      it('restarts a consumer that makes no progress while the log has records for it', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady(topic, { log, stallTimeout: 500, lagPollInterval: 50 });
        const b = await openReady(topic);
        const errors: Array<{ code: string }> = [];
        a.on('error', (error) => errors.push(error));
        log.last!.hold();
        await b.set('moved', 1, { durable: true });
        await waitFor(() => log.last!.restarts > 0, { message: 'the watchdog to restart the consumer' });
        expect(a.state).toBe('degraded');
        expect(errors.map((e) => e.code)).toContain('NC_CONSUMER_STALLED');
        log.last!.release();
        await waitFor(() => a.get('moved') === 1 && a.state === 'live', { message: 'the consumer to go on after the restart' });
      });
    },
  },
  {
    number: 12,
    title: 'own writes removed by the cleaner before they came back',
    register({ it, openReady, harness }) {
      const keyOf = (r: { key: Uint8Array | null }) => (r.key ? Buffer.from(r.key).toString() : '');
      const originOf = (r: { headers: Record<string, unknown>; value: Uint8Array | null }) => recordMeta(r)?.origin;

      it('a set superseded and compacted away while the writer was behind does not shield the key', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady(topic, { log });
        const b = await openReady(topic);
        log.last!.stall();
        await a.set('k', 'from-a', { durable: true });
        await b.set('k', 'from-b', { durable: true });
        await harness().compact(topic, (records) => !records.some((r) => keyOf(r) === 'k' && originOf(r) === a.origin));
        await log.last!.unstall();
        await waitFor(() => a.get('k') === 'from-b', { message: () => `the writer to take the later write, has ${String(a.get('k'))}` });
        await b.set('k', 'again', { durable: true });
        await waitFor(() => a.get('k') === 'again', { message: 'the writer to follow later writes' });
      });

      it('a delete whose tombstone was compacted away does not shield the key', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady(topic, { log });
        const b = await openReady(topic);
        await a.set('k', 'v', { durable: true });
        await waitFor(() => b.get('k') === 'v', { message: 'the first value on b' });
        log.last!.stall();
        await a.delete('k', { durable: true });
        await harness().compact(topic, (records) => !records.some((r) => keyOf(r) === 'k'));
        await log.last!.unstall();
        await waitFor(() => a.stats().partitions[0]!.lagRecords === 0, { message: 'the writer to catch up' });
        await b.set('k', 'later', { durable: true });
        await waitFor(() => a.get('k') === 'later', { message: () => `the writer to take a later write, has ${String(a.get('k'))}` });
      });

      it('a clear superseded and compacted away does not shield the prefix', async () => {
        const topic = await harness().newTopic();
        const log = chaos(harness().log(topic));
        const a = await openReady(topic, { log });
        const b = await openReady(topic);
        log.last!.stall();
        await a.clearPrefix('p:', { durable: true });
        await b.clearPrefix('p:', { durable: true });
        await harness().compact(topic, (records) => !records.some((r) => keyOf(r).includes('clear') && originOf(r) === a.origin));
        await log.last!.unstall();
        await waitFor(() => a.stats().partitions[0]!.lagRecords === 0, { message: 'the writer to catch up' });
        await b.set('p:1', 'x', { durable: true });
        await waitFor(() => a.get('p:1') === 'x', { message: 'the writer to take a write under the prefix' });
      });
    },
  },
  {
    number: 10,
    title: 'clean close',
    register({ it, harness, t: { expect } }) {
      it('close() leaves nothing running: the process exits on its own', async () => {
        const topic = await harness().newTopic();
        const closeChild = harness().closeChild;
        if (!closeChild) throw new Error(`the ${harness().name} harness cannot run a process on the log: give it closeChild, or leave section 10 out`);
        const run = closeChild(topic);
        const child = spawn(process.execPath, run.args, { env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const code = await new Promise<number | null>((resolve, reject) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`the process did not exit on its own after close(): ${output}`));
          }, 60_000);
          child.on('exit', (exitCode) => {
            clearTimeout(timer);
            resolve(exitCode);
          });
        });
        expect(output).toContain('closed with state closed');
        expect(code).toBe(0);
      });
    },
  },
];

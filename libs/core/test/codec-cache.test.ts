import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  encryptedCodec,
  InProcessBroker,
  inProcessLog,
  InvalidOptionError,
  InvalidValueError,
  jsonCodec,
  silentLogger,
  structuredCodec,
  type Codec,
  type NearCache,
  type NearCacheError,
  type NearCacheOptions,
  type RejectedRecord,
} from '../src/index.js';
import { rejection, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';
import { withMetaLine } from '../../../test/helpers/records.js';

let broker: InProcessBroker;
let topic: string;
const open: Array<NearCache<any>> = [];

beforeEach(() => {
  broker = new InProcessBroker();
  topic = uniqueTopic('codec');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function instance(options: Partial<NearCacheOptions<any>> = {}): Promise<NearCache<any>> {
  const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, ...options });
  open.push(cache);
  await cache.ready({ timeout: 5000 });
  return cache;
}

class Money {
  constructor(
    readonly amount: number,
    readonly currency: string,
  ) {}
  format(): string {
    return `${this.amount} ${this.currency}`;
  }
}

/** Values whose type the old default (JSON) changed on the way to other instances. */
const values: Record<string, () => unknown> = {
  date: () => new Date('2026-03-04T05:06:07.089Z'),
  map: () =>
    new Map<unknown, unknown>([
      ['a', 1],
      [2, { b: [new Date(5)] }],
    ]),
  set: () => new Set(['x', 1]),
  bigint: () => 12345678901234567890n,
  nan: () => ({ n: Number.NaN, inf: Number.NEGATIVE_INFINITY, negativeZero: -0 }),
  nestedUndefined: () => ({ a: undefined, list: [undefined, 1] }),
  bytes: () => ({ buffer: Buffer.from('hi'), floats: new Float32Array([1.5]) }),
  row: () => ({ id: 7, createdAt: new Date(1), tags: new Set(['t']), error: new TypeError('bad', { cause: 'why' }) }),
};

describe('the default codec: every instance holds the same value, the writer included', () => {
  it.each(Object.keys(values))('%s: the writer and another instance hold values of the same types and contents', async (name) => {
    const writer = await instance();
    const reader = await instance();
    await writer.set('k', values[name]!(), { durable: true });
    await waitCaughtUp([writer, reader], broker, topic);
    const mine = writer.get('k');
    const theirs = reader.get('k');
    expect(isDeepStrictEqual(mine, theirs), `${name}: writer ${String(mine)} vs reader ${String(theirs)}`).toBe(true);
    expect(Object.getPrototypeOf(theirs)).toBe(Object.getPrototypeOf(values[name]!()));
    // A fresh instance reading the topic (lazy bootstrap decode) holds it too.
    const fresh = await instance();
    expect(isDeepStrictEqual(fresh.get('k'), mine)).toBe(true);
  });

  it("refuses a class instance with a typed error naming the key, with the codec's error as its cause, and changes nothing anywhere", async () => {
    const writer = await instance();
    const reader = await instance();
    await writer.set('price', { amount: 1 }, { durable: true });
    await waitCaughtUp([writer, reader], broker, topic);
    const recordsBefore = broker.records(topic).length;
    const statsBefore = writer.stats();

    const error = (await rejection(writer.set('price', new Money(5, 'EUR')))) as InvalidValueError;
    expect(error).toBeInstanceOf(InvalidValueError);
    expect(error.code).toBe('NC_INVALID_VALUE');
    expect(error.key).toBe('price');
    expect(error.message).toContain('"price"');
    expect(error.message).toContain('class Money');
    expect(error.cause).toBeInstanceOf(InvalidValueError);

    await writer.flush();
    expect(writer.get('price')).toEqual({ amount: 1 });
    expect(broker.records(topic)).toHaveLength(recordsBefore);
    expect(writer.stats().sets).toBe(statsBefore.sets);
    expect(writer.stats().queue.depth).toBe(0);
    expect(reader.get('price')).toEqual({ amount: 1 });
  });

  it('a refused value of a key not held is cached nowhere', async () => {
    const writer = await instance();
    for (const value of [new Money(1, 'EUR'), () => 1, Symbol('s'), new WeakMap(), Promise.resolve(1), { when: new Date(0), fn: () => 1 }]) {
      const error = (await rejection(writer.set('fresh', value))) as InvalidValueError;
      expect(error).toBeInstanceOf(InvalidValueError);
      expect(error.key).toBe('fresh');
    }
    expect(writer.has('fresh')).toBe(false);
    expect(broker.records(topic)).toHaveLength(0);
  });

  it('wrap returns a refused loader result, reports the refusal with the key, and caches nothing', async () => {
    const writer = await instance();
    const errors: NearCacheError[] = [];
    writer.on('error', (e) => errors.push(e));
    const value = new Money(2, 'USD');
    await expect(writer.wrap('w', () => value)).resolves.toBe(value);
    expect(writer.has('w')).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidValueError);
    expect((errors[0] as InvalidValueError).key).toBe('w');
    await expect(rejection(writer.wrap('w2', () => value, { durable: true }))).resolves.toBeInstanceOf(InvalidValueError);
    expect(writer.has('w2')).toBe(false);
  });

  it('without an error listener, wrap warns once per key about a refused value, naming the key', async () => {
    const warnings: string[] = [];
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error: (message: string) => errors.push(message) };
    const writer = await instance({ logger });
    for (let i = 0; i < 3; i++) await writer.wrap('product:1', () => new Money(i, 'EUR'));
    await writer.wrap('product:2', () => new Money(9, 'EUR'));
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/"product:1".*class Money/);
    expect(warnings[1]).toMatch(/"product:2"/);
    expect(writer.has('product:1')).toBe(false);
  });

  it('an oversized value names its key', async () => {
    const writer = await instance({ maxValueBytes: 16 });
    const error = (await rejection(writer.set('big', new Map([['k', 'x'.repeat(100)]])))) as InvalidValueError;
    expect(error.code).toBe('NC_VALUE_TOO_LARGE');
    expect(error.key).toBe('big');
  });

  it('reads version 2 records (JSON values, no codec named) written before the upgrade', async () => {
    broker.createTopic(topic);
    broker.produce(topic, [
      { partition: 0, key: 'old', value: withMetaLine({ op: 's', origin: 'old-writer.1', writeId: 1 }, '{"at":"2026-01-01T00:00:00.000Z"}'), headers: {} },
    ]);
    const reader = await instance();
    expect(reader.get('old')).toEqual({ at: '2026-01-01T00:00:00.000Z' });
    expect(reader.stats().records.rejected).toBe(0);
  });
});

describe('a codec that is not exact: the writer keeps what the others decode', () => {
  it('under jsonCodec the writer holds the Date as the ISO string every other instance holds', async () => {
    const writer = await instance({ codec: jsonCodec() });
    const reader = await instance({ codec: jsonCodec() });
    const value = { at: new Date('2026-01-01T00:00:00.000Z'), skip: undefined };
    await writer.set('k', value, { durable: true });
    await waitCaughtUp([writer, reader], broker, topic);
    expect(writer.get('k')).toEqual({ at: '2026-01-01T00:00:00.000Z' });
    expect(writer.get('k')).not.toBe(value);
    expect(isDeepStrictEqual(writer.get('k'), reader.get('k'))).toBe(true);
    // wrap returns the same held copy, not the loader's object.
    const loaded = await writer.wrap('w', () => ({ at: new Date(0) }));
    expect(loaded).toEqual({ at: '1970-01-01T00:00:00.000Z' });
    expect(writer.get('w')).toBe(loaded);
  });

  it('a custom codec that does not say it is exact is treated as not exact', async () => {
    let decodes = 0;
    const upper: Codec<string> = {
      name: 'upper',
      encode: (value) => Buffer.from(value.toUpperCase()),
      decode: (bytes) => {
        decodes++;
        return Buffer.from(bytes).toString();
      },
    };
    const writer = await instance({ codec: upper });
    await writer.set('k', 'shout');
    expect(writer.get('k')).toBe('SHOUT');
    expect(decodes).toBe(1);
  });

  it('an encrypted structured codec is exact and round-trips rich values between instances', async () => {
    const key = Buffer.alloc(32, 7);
    const codec = () => encryptedCodec(structuredCodec(), { keys: { k1: key }, currentKeyId: 'k1' });
    expect(codec().name).toBe('aes-256-gcm(structured)');
    expect(codec().exact).toBe(true);
    const writer = await instance({ codec: codec() });
    const reader = await instance({ codec: codec() });
    const value = new Map([['at', new Date(3)]]);
    await writer.set('k', value, { durable: true });
    await waitCaughtUp([writer, reader], broker, topic);
    expect(writer.get('k')).toBe(value);
    expect(isDeepStrictEqual(reader.get('k'), value)).toBe(true);
  });
});

describe('instances with different codecs on one topic fail loudly', () => {
  it.each(['eager', 'lazy'] as const)(
    'records of another codec are skipped, counted and reported with their offsets, never decoded (%s bootstrap)',
    async (bootstrapDecode) => {
      const structured = await instance();
      const json = await instance({ codec: jsonCodec() });
      await structured.set('s', { at: new Date(1) }, { durable: true });
      await json.set('j', { n: 1 }, { durable: true });
      await waitCaughtUp([structured, json], broker, topic);

      // Each skips the other's set.
      expect(structured.get('j')).toBeUndefined();
      expect(json.get('s')).toBeUndefined();
      const jOffset = broker.records(topic).find((r) => Buffer.from(r.key!).toString() === 'j')!.offset;
      expect(structured.stats().records.rejectedByReason).toEqual({ 'codec-mismatch': 1 });
      expect(structured.stats().records.lastRejected).toEqual([expect.objectContaining({ partition: 0, offset: jOffset, reason: 'codec-mismatch' })]);
      expect(structured.stats().records.lastRejected[0]!.detail).toMatch(/"json".*"structured"/);

      // A fresh instance (lazy or eager bootstrap) rejects at once, with the offset, and keeps its own codec's values.
      const rejected: RejectedRecord[] = [];
      const fresh = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, bootstrapDecode });
      open.push(fresh);
      fresh.on('rejected', (r) => rejected.push(r));
      await fresh.ready({ timeout: 5000 });
      await waitFor(() => rejected.length === 1, { timeout: 5000 });
      expect(rejected[0]).toMatchObject({ offset: jOffset, reason: 'codec-mismatch' });
      expect(fresh.has('j')).toBe(false);
      expect(fresh.get('s')).toEqual({ at: new Date(1) });
    },
  );

  it('a delete from an instance of another codec still removes the key', async () => {
    const structured = await instance();
    const json = await instance({ codec: jsonCodec() });
    await structured.set('k', 1, { durable: true });
    await json.delete('k', { durable: true });
    await waitCaughtUp([structured, json], broker, topic);
    expect(structured.has('k')).toBe(false);
  });
});

describe('codec option', () => {
  it.each(['has space', '', 'x'.repeat(65), 'tab\there'])('refuses a codec named %j', (name) => {
    expect(() => createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger, codec: { ...structuredCodec(), name } })).toThrow(
      InvalidOptionError,
    );
  });

  it('refuses a codec whose exact is not a boolean', () => {
    expect(() =>
      createNearCache({ topic, log: inProcessLog(broker), logger: silentLogger, codec: { ...structuredCodec(), exact: 'yes' as unknown as boolean } }),
    ).toThrow(/codec\.exact/);
  });

  it('defaults to the structured codec', async () => {
    const cache = await instance();
    await cache.set('k', new Set([1]), { durable: true });
    const record = broker.records(topic)[0]!;
    expect(Buffer.from(record.value!).toString('latin1')).toMatch(/^3 s 0 1 structured \S+\n\xff/);
  });
});

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createNearCache,
  DecodeError,
  encryptedCodec,
  InProcessBroker,
  inProcessLog,
  InvalidOptionError,
  jsonCodec,
  recordSigner,
  silentLogger,
  type NearCache,
  type NearCacheOptions,
  type RejectedRecord,
} from '../src/index.js';
import { foldTopic, nextEvent, rawSet, uniqueTopic, waitCaughtUp, waitFor } from './helpers.js';

const K1 = randomBytes(32);
const K2 = randomBytes(32);

describe('encryptedCodec', () => {
  it('round-trips values and hides them on the wire', () => {
    const codec = encryptedCodec(jsonCodec(), { keys: { k1: K1 }, currentKeyId: 'k1' });
    const value = { secret: 'card-4111-1111', n: [1, 2, 3] };
    const bytes = codec.encode(value);
    expect(Buffer.from(bytes).toString('latin1')).not.toContain('card-4111');
    expect(codec.decode(bytes)).toEqual(value);
    // A random IV each time: equal values give different ciphertexts.
    expect(Buffer.from(codec.encode(value)).equals(Buffer.from(bytes))).toBe(false);
  });

  it('decodes values written under an older key after rotation, and refuses unknown keys', () => {
    const old = encryptedCodec(jsonCodec(), { keys: { k1: K1 }, currentKeyId: 'k1' });
    const rotated = encryptedCodec(jsonCodec(), { keys: { k1: K1, k2: K2 }, currentKeyId: 'k2' });
    const fromOld = old.encode('before');
    const fromNew = rotated.encode('after');
    expect(rotated.decode(fromOld)).toBe('before');
    expect(rotated.decode(fromNew)).toBe('after');
    expect(() => old.decode(fromNew)).toThrow(DecodeError);
    expect(() => old.decode(fromNew)).toThrow(/unknown key id "k2"/);
  });

  it('refuses tampered, truncated, foreign and plain payloads with DecodeError', () => {
    const codec = encryptedCodec(jsonCodec(), { keys: { k1: K1 }, currentKeyId: 'k1' });
    const bytes = Buffer.from(codec.encode({ a: 1 }));
    for (let i = 2 + 2; i < bytes.length; i += 7) {
      const tampered = Buffer.from(bytes);
      tampered[i] = tampered[i]! ^ 0x01;
      expect(() => codec.decode(tampered), `byte ${i} flipped`).toThrow(DecodeError);
    }
    expect(() => codec.decode(bytes.subarray(0, 20))).toThrow(DecodeError);
    expect(() => codec.decode(Buffer.from('{"a":1}'))).toThrow(DecodeError);
    const otherKey = encryptedCodec(jsonCodec(), { keys: { k1: K2 }, currentKeyId: 'k1' });
    expect(() => otherKey.decode(bytes)).toThrow(/failed authentication/);
  });

  it('checks its options up front', () => {
    expect(() => encryptedCodec(jsonCodec(), { keys: { k1: randomBytes(16) }, currentKeyId: 'k1' })).toThrow(InvalidOptionError);
    expect(() => encryptedCodec(jsonCodec(), { keys: { k1: K1 }, currentKeyId: 'k2' })).toThrow(/one of the ids/);
    expect(() => encryptedCodec(jsonCodec(), { keys: {}, currentKeyId: 'k1' })).toThrow(InvalidOptionError);
    expect(() => encryptedCodec(jsonCodec(), { keys: { 'bad id': K1 }, currentKeyId: 'bad id' })).toThrow(InvalidOptionError);
    expect(() => encryptedCodec(jsonCodec(), { keys: { k1: 'a string key' as unknown as Uint8Array }, currentKeyId: 'k1' })).toThrow(InvalidOptionError);
  });
});

describe('recordSigner', () => {
  const record = () => ({
    partition: 0,
    key: 'user:1',
    value: Buffer.from('{"a":1}') as Uint8Array | null,
    headers: { 'nc-r': '2 s 0 7 o' } as Record<string, string>,
  });
  const asRead = (r: ReturnType<typeof record>) => ({
    partition: 0,
    offset: 0,
    timestamp: 0,
    key: Buffer.from(r.key),
    value: r.value,
    headers: { ...r.headers } as Record<string, string>,
  });

  it('signs and verifies; any change to topic, key, value or an nc-* header breaks the signature', () => {
    const signer = recordSigner({ keys: { s1: 'a-secret-of-32-characters-------' }, currentKeyId: 's1' });
    const r = record();
    signer.sign('topic-a', r);
    expect(r.headers['nc-sig']).toMatch(/^s1:[A-Za-z0-9+/]+=*$/);
    expect(signer.verify('topic-a', asRead(r))).toBeUndefined();
    expect(signer.verify('topic-b', asRead(r))).toMatch(/does not match/);
    expect(signer.verify('topic-a', { ...asRead(r), key: Buffer.from('user:2') })).toMatch(/does not match/);
    expect(signer.verify('topic-a', { ...asRead(r), value: Buffer.from('{"a":2}') })).toMatch(/does not match/);
    expect(signer.verify('topic-a', { ...asRead(r), value: null })).toMatch(/does not match/);
    expect(signer.verify('topic-a', { ...asRead(r), headers: { ...r.headers, 'nc-r': '2 s 1 7 o' } })).toMatch(/does not match/);
    expect(signer.verify('topic-a', { ...asRead(r), headers: { ...r.headers, 'nc-extra': 'x' } })).toMatch(/does not match/);
    // Headers outside nc-* (tracing) are not covered.
    expect(signer.verify('topic-a', { ...asRead(r), headers: { ...r.headers, traceparent: 'x' } })).toBeUndefined();
  });

  it('accepts records of a rotated-out key still listed, and refuses unknown keys, unsigned and malformed signatures', () => {
    const old = recordSigner({ keys: { s1: 'first-secret-0123456789' }, currentKeyId: 's1' });
    const rotated = recordSigner({ keys: { s1: 'first-secret-0123456789', s2: Buffer.from('second-secret-0123456789') }, currentKeyId: 's2' });
    const a = record();
    old.sign('t', a);
    const b = record();
    rotated.sign('t', b);
    expect(b.headers['nc-sig']).toMatch(/^s2:/);
    expect(rotated.verify('t', asRead(a))).toBeUndefined();
    expect(rotated.verify('t', asRead(b))).toBeUndefined();
    expect(old.verify('t', asRead(b))).toMatch(/unknown key id "s2"/);
    expect(old.verify('t', asRead(record()))).toMatch(/not signed/);
    expect(old.verify('t', { ...asRead(a), headers: { ...a.headers, 'nc-sig': 'garbage' } })).toMatch(/malformed/);
    const lenient = recordSigner({ keys: { s1: 'first-secret-0123456789' }, currentKeyId: 's1', requireSigned: false });
    expect(lenient.verify('t', asRead(record()))).toBeUndefined();
    expect(lenient.verify('t', { ...asRead(a), value: Buffer.from('x') })).toMatch(/does not match/);
  });

  it('checks its options up front', () => {
    expect(() => recordSigner({ keys: { s1: 'short' }, currentKeyId: 's1' })).toThrow(InvalidOptionError);
    expect(() => recordSigner({ keys: { s1: 'long-enough-secret-123' }, currentKeyId: 's9' })).toThrow(/one of the ids/);
    expect(() => recordSigner({ keys: { s1: 'long-enough-secret-123' }, currentKeyId: 's1', requireSigned: 'yes' as unknown as boolean })).toThrow(
      InvalidOptionError,
    );
    expect(() => recordSigner({ keys: { s1: 'long-enough-secret-123' }, currentKeyId: 's1', extra: 1 } as never)).toThrow(/unknown option "signing.extra"/);
  });
});

describe('a cache with signing and encryption', () => {
  const caches: Array<NearCache<any>> = [];
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()));
  });

  function open(broker: InProcessBroker, topic: string, extra: Partial<NearCacheOptions<any>>): NearCache<any> {
    const cache = createNearCache<any>({ topic, log: inProcessLog(broker), logger: silentLogger, ...extra });
    caches.push(cache);
    return cache;
  }

  const signing = { keys: { s1: 'shared-signing-secret-0001' }, currentKeyId: 's1' };

  it('rejects the signing option when invalid, with InvalidOptionError', () => {
    const broker = new InProcessBroker();
    expect(() => createNearCache({ topic: 't', log: inProcessLog(broker), signing: { keys: {}, currentKeyId: 'x' } })).toThrow(InvalidOptionError);
  });

  it('replicates signed records, and skips, counts and reports unsigned and forged ones, keeping previous values', async () => {
    const broker = new InProcessBroker();
    const topic = uniqueTopic('sig');
    broker.createTopic(topic);
    const a = open(broker, topic, { signing });
    const b = open(broker, topic, { signing });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', { v: 1 });
    await a.flush();
    await waitFor(() => b.get('k')?.v === 1);
    const rejected: RejectedRecord[] = [];
    b.on('rejected', (r) => rejected.push(r));

    // Unsigned (an instance without the key), forged (wrong secret), and a signed record replayed under another key.
    const unsigned = open(broker, topic, {});
    await unsigned.ready();
    await unsigned.set('k', { v: 'unsigned' });
    await unsigned.flush();
    const forger = open(broker, topic, { signing: { keys: { s1: 'not-the-real-secret-00001' }, currentKeyId: 's1' } });
    await forger.ready();
    await forger.set('k', { v: 'forged' });
    await forger.flush();
    const [signedRecord] = broker.records(topic).filter((r) => r.headers['nc-sig'] !== undefined && Buffer.from(r.key!).toString() === 'k');
    const moved = rawSet('other', { v: 1 }, { origin: 'x' });
    moved.headers = { ...(moved.headers as Record<string, string>), 'nc-sig': String(signedRecord!.headers['nc-sig']) };
    broker.produce(topic, [moved]);

    await waitCaughtUp([a, b], broker, topic);
    expect(rejected.map((r) => r.reason)).toEqual(['bad-signature', 'bad-signature', 'bad-signature']);
    expect(rejected[0]!.detail).toMatch(/not signed/);
    expect(rejected[1]!.detail).toMatch(/does not match/);
    expect(b.stats().records.rejectedByReason['bad-signature']).toBe(3);
    expect(a.stats().records.rejectedByReason['bad-signature']).toBe(3);
    expect(b.get('k')).toEqual({ v: 1 });
    expect(a.get('k')).toEqual({ v: 1 });
    expect(b.has('other')).toBe(false);

    // A fresh signed instance rebuilds the same state.
    const fresh = open(broker, topic, { signing });
    await fresh.ready();
    expect(fresh.get('k')).toEqual({ v: 1 });
    expect(fresh.stats().records.rejected).toBe(3);
  });

  it('encrypts values on the topic; a reader without the key skips them as decode-failed', async () => {
    const broker = new InProcessBroker();
    const topic = uniqueTopic('enc');
    broker.createTopic(topic);
    const codec = encryptedCodec(jsonCodec(), { keys: { k1: K1 }, currentKeyId: 'k1' });
    const a = open(broker, topic, { codec });
    const b = open(broker, topic, { codec });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('secret', { pin: 'PIN-98765' });
    await a.flush();
    await waitFor(() => b.get('secret')?.pin === 'PIN-98765');
    for (const record of broker.records(topic)) {
      expect(Buffer.from(record.value ?? []).toString('latin1')).not.toContain('PIN-98765');
    }
    // The oracle folding raw bytes sees no JSON value.
    expect(foldTopic(broker.records(topic)).has('secret')).toBe(false);

    // Bootstrap decodes lazily by default: the value is found undecodable on its first read.
    const wrongCodec = () => encryptedCodec(jsonCodec(), { keys: { k1: K2 }, currentKeyId: 'k1' });
    const wrongKey = open(broker, topic, { codec: wrongCodec() });
    const rejected = nextEvent<[RejectedRecord]>(wrongKey, 'rejected');
    await wrongKey.ready();
    expect(wrongKey.stats().records.rejected).toBe(0);
    expect(wrongKey.has('secret')).toBe(false);
    const [record] = await rejected;
    expect(record).toMatchObject({ reason: 'decode-failed', partition: 0, offset: 0 });
    expect(wrongKey.get('secret')).toBeUndefined();
    expect(wrongKey.stats().records.rejected).toBe(1);

    // bootstrapDecode: 'eager' finds it while bootstrapping.
    const eager = open(broker, topic, { codec: wrongCodec(), bootstrapDecode: 'eager' });
    const rejectedEarly = nextEvent<[RejectedRecord]>(eager, 'rejected');
    await eager.ready();
    expect((await rejectedEarly)[0].reason).toBe('decode-failed');
    expect(eager.stats().records.rejected).toBe(1);
    expect(eager.has('secret')).toBe(false);
  });
});

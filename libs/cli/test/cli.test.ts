import { createNearCache, encryptedCodec, silentLogger, structuredCodec, type NearCache } from '@nearcache/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBin, cli, startCli, KafkaTestClient, NO_CLEANING, runBin, startBin, testBrokers, waitFor } from './support.js';

// Every test reads topics of the shared broker; each topic is the test's own.
const kafka = new KafkaTestClient();
const brokers = testBrokers();
const caches: NearCache[] = [];

async function cache(topic: string, extra: Record<string, unknown> = {}): Promise<NearCache> {
  const c = createNearCache({ topic, kafka: { brokers, logLevel: 'nothing', createTopic: false }, logger: silentLogger, ...extra });
  caches.push(c);
  await c.ready({ timeout: 30_000 });
  return c;
}

/** A topic whose records stay as written for the length of a test (the cleaner leaves them alone). */
const stableTopic = (partitions = 2, config: Record<string, string> = {}) => kafka.createTopic({ partitions, config: { ...NO_CLEANING, ...config } });

beforeAll(async () => {
  await buildBin();
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(caches.map((c) => c.close()));
  await kafka.close();
});

describe('get', () => {
  it('folds a key from the topic: sets, deletes, clears, tag invalidations, expiry; one codec per record', async () => {
    const topic = await stableTopic();
    const c = await cache(topic);
    const since = new Date('2026-01-02T03:04:05.000Z');
    await c.set('user:1', { name: 'Ada', since, roles: new Set(['admin']) }, { durable: true });
    await c.set('user:2', 'temporary', { durable: true });
    await c.delete('user:2', { durable: true });
    await c.delete('only-deleted', { durable: true });
    await c.set('tmp:a', 1, { durable: true });
    await c.clearPrefix('tmp:', { durable: true });
    await c.set('tagged', 'v', { tags: ['org:7'], durable: true });
    await c.invalidateTags(['org:7'], { durable: true });
    await c.set('ttl', 'later', { ttl: 3_600_000, durable: true });
    // A record written by a JSON-codec instance, and one already expired (both raw, version 3).
    const jsonPartition = (await import('@nearcache/core')).partitionFor('from-json', 2);
    await kafka.produce(topic, [
      { partition: jsonPartition, key: 'from-json', value: '3 s 0 1 json other-origin\n{"a":[1,2]}' },
      {
        partition: (await import('@nearcache/core')).partitionFor('expired', 2),
        key: 'expired',
        value: `3 s ${Date.now() - 1000} 2 structured other-origin\n"old"`,
      },
    ]);

    const found = await runBin(['get', 'user:1', '--topic', topic, '--json'], { KAFKA_BROKERS: brokers.join(',') });
    expect(found.code, found.stderr).toBe(0);
    const report = JSON.parse(found.stdout);
    expect(report).toMatchObject({ found: true, key: 'user:1', codec: 'structured', expiresAt: 0 });
    expect(report.value).toEqual({ name: 'Ada', since: { $date: since.toISOString() }, roles: { $set: ['admin'] } });

    const human = await cli(['get', 'user:1', '--topic', topic]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("name: 'Ada'");
    expect(human.stdout).toContain('codec structured');

    expect((await cli(['get', 'from-json', '--topic', topic, '--json'])).stdout).toContain('"codec": "json"');
    const ttl = JSON.parse((await cli(['get', 'ttl', '--topic', topic, '--json'])).stdout);
    expect(ttl.expiresAt).toBeGreaterThan(Date.now());

    const missing = async (key: string) => {
      const outcome = await cli(['get', key, '--topic', topic, '--json']);
      expect(outcome.code, key).toBe(1);
      return JSON.parse(outcome.stdout) as { found: boolean; reason: string };
    };
    expect((await missing('user:2')).reason).toMatch(/^deleted at offset \d+/);
    expect((await missing('only-deleted')).reason).toMatch(/^deleted at offset \d+/);
    expect((await missing('tmp:a')).reason).toMatch(/^cleared \(prefix "tmp:"\)/);
    expect((await missing('tagged')).reason).toMatch(/^invalidated \(tag "org:7"\)/);
    expect((await missing('expired')).reason).toMatch(/^expired at /);
    expect((await missing('never-written')).reason).toMatch(/^no record of the key/);
  });

  it('keeps the previous value when a later record of the key is undecodable or forged, and says which it skipped', async () => {
    const topic = await stableTopic(1);
    const c = await cache(topic);
    await c.set('k', 'good', { durable: true });
    const [undecodable, unknownVersion] = await kafka.produce(topic, [
      { key: 'k', value: Buffer.concat([Buffer.from('3 s 0 9 structured x\n'), Buffer.from([0xff, 0x0f, 0x00, 0x99])]) },
      { key: 'k', value: '7 s 0 9 structured x\n"forged"' },
    ]);
    const outcome = await cli(['get', 'k', '--topic', topic, '--json']);
    expect(outcome.code).toBe(0);
    const report = JSON.parse(outcome.stdout);
    expect(report.value).toBe('good');
    expect(report.skipped.map((s: { offset: number; reason: string }) => [s.offset, s.reason])).toEqual([
      [undecodable, 'decode-failed'],
      [unknownVersion, 'unknown-version'],
    ]);
  });
});

describe('encrypted values', () => {
  it('decodes aes-256-gcm values with --encryption-key, and reports them as codec-mismatch without it', async () => {
    const topic = await stableTopic(1);
    const key = Buffer.alloc(32, 7);
    const c = await cache(topic, { codec: encryptedCodec(structuredCodec(), { keys: { e1: key }, currentKeyId: 'e1' }) });
    await c.set('secret', { card: '4111' }, { durable: true });
    const withKey = await cli(['get', 'secret', '--topic', topic, '--json', '--encryption-key', `e1=hex:${key.toString('hex')}`]);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(JSON.parse(withKey.stdout)).toMatchObject({ codec: 'aes-256-gcm(structured)', value: { card: '4111' } });
    const without = await cli(['get', 'secret', '--topic', topic, '--json']);
    expect(without.code).toBe(1);
    expect(JSON.parse(without.stdout).skipped[0]).toMatchObject({ reason: 'codec-mismatch', detail: expect.stringContaining('--encryption-key') });
    const wrongKey = await cli(['verify', '--topic', topic, '--encryption-key', `e1=base64:${Buffer.alloc(32, 8).toString('base64')}`]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/key "secret": decode-failed: encrypted value failed authentication/);
    expect((await cli(['verify', '--topic', topic, '--encryption-key', `e1=hex:${key.toString('hex')}`])).code).toBe(0);
    const short = await cli(['verify', '--topic', topic, '--encryption-key', 'e1=hex:00']);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/32 bytes/);
  });
});

describe('inspect', () => {
  it('reports partitions, offsets, settings with findings, record, byte, tombstone and key counts', async () => {
    const topic = await stableTopic(2, { 'delete.retention.ms': '1000' });
    const c = await cache(topic);
    for (let i = 0; i < 10; i++) await c.set(`key:${i}`, { i }, { durable: i === 9 });
    await c.delete('key:0', { durable: true });
    await c.clearPrefix('key:1', { durable: true });
    await c.set('short', 'x', { ttl: 1, durable: true });
    await waitFor(() => !c.has('short'), { timeout: 5000, message: 'the short entry to expire' });

    const records = await kafka.readAll(topic);
    const outcome = await runBin(['inspect', '--topic', topic, '--json'], { KAFKA_BROKERS: brokers.join(',') });
    expect(outcome.code, outcome.stderr).toBe(0);
    const report = JSON.parse(outcome.stdout);
    expect(report.partitions).toHaveLength(2);
    expect(report.partitions.reduce((n: number, p: { read: number }) => n + p.read, 0)).toBe(records.length);
    expect(report.records.total).toBe(records.length);
    expect(report.records.tombstones).toBe(records.filter((r) => r.value === null).length);
    expect(report.records.bytes.values).toBe(records.reduce((n, r) => n + (r.value?.length ?? 0), 0));
    expect(report.records).toMatchObject({ sets: 11, tombstones: 1, clears: 2, rejected: 0 });
    // key:0 deleted, key:1 cleared, short expired: 8 live of 11 keys written.
    expect(report.keys).toEqual({ live: 8, expired: 1, distinct: 11 });
    expect(report.config['cleanup.policy']).toBe('compact');
    expect(report.config['delete.retention.ms']).toBe('1000');
    expect(report.findings).toContainEqual(expect.objectContaining({ level: 'warning', setting: 'delete.retention.ms', value: '1000' }));

    const human = await cli(['inspect', '--topic', topic]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`topic ${topic}: 2 partition(s)`);
    expect(human.stdout).toMatch(/warning +delete\.retention\.ms=1000: below one day/);
    expect(human.stdout).toContain('keys 8 live, 1 expired');
  });

  it('exits 1 on a topic a cache refuses (not compacted), with the finding', async () => {
    const topic = await kafka.createTopic({ config: { 'cleanup.policy': 'delete' } });
    const outcome = await cli(['inspect', '--topic', topic, '--json']);
    expect(outcome.code).toBe(1);
    expect(JSON.parse(outcome.stdout).findings[0]).toMatchObject({ level: 'error', setting: 'cleanup.policy', value: 'delete' });
  });
});

describe('verify', () => {
  const secret = 'a-signing-secret-of-32-characters';

  it('lists poison records by offset (bad headers, undecodable values, wrong signatures, foreign bytes) and exits 1', async () => {
    const topic = await stableTopic(1);
    const c = await cache(topic, { signing: { keys: { k1: secret }, currentKeyId: 'k1' } });
    await c.set('good', { ok: true }, { durable: true });
    await c.delete('gone', { durable: true });
    await c.clearPrefix('p:', { durable: true });
    const forger = createNearCache({
      topic,
      kafka: { brokers, logLevel: 'nothing', createTopic: false },
      logger: silentLogger,
      signing: { keys: { k1: 'another-secret-entirely-000000' }, currentKeyId: 'k1' },
    });
    caches.push(forger);
    await forger.ready({ timeout: 30_000 });
    await forger.set('forged', 'evil', { durable: true });
    const forgedOffset = (await kafka.readAll(topic)).find((r) => r.key !== null && Buffer.from(r.key).toString() === 'forged')!.offset;
    const poison = await kafka.produce(topic, [
      { key: 'foreign', value: 'just some bytes' },
      { key: 'badver', value: 'x', headers: { 'nc-r': '9 d 0 1 structured o' } },
      { key: 'undecodable', value: Buffer.concat([Buffer.from('3 s 0 1 structured o\n'), Buffer.from([0xff, 0x0f, 0x00])]) },
      { key: '\u0000reserved', value: '3 s 0 1 structured o\n"a set under a reserved key"' },
    ]);

    // Without keys: the format only; the forged record is well formed.
    const unsigned = await cli(['verify', '--topic', topic, '--json']);
    expect(unsigned.code).toBe(1);
    const formatOnly = JSON.parse(unsigned.stdout);
    expect(formatOnly.bad.map((b: { offset: number; reason: string }) => [b.offset, b.reason])).toEqual([
      [poison[0], 'missing-header'],
      [poison[1], 'unknown-version'],
      [poison[2], 'decode-failed'],
      [poison[3], 'invalid-key'],
    ]);
    expect(formatOnly.checked).toBe((await kafka.readAll(topic)).length);

    // With the key: signatures first; every unsigned poison record and the forged one are bad.
    const signed = await runBin(['verify', '--topic', topic, '--key', `k1=${secret}`], { KAFKA_BROKERS: brokers.join(',') });
    expect(signed.code).toBe(1);
    expect(signed.stdout).toContain(`partition 0 offset ${forgedOffset} key "forged": bad-signature: the signature does not match (key "k1")`);
    for (const offset of poison) expect(signed.stdout).toContain(`offset ${offset} `);
    expect(signed.stdout).toMatch(/signatures included: 5 bad \(bad-signature 5\)/);
    expect(signed.stdout).not.toContain('key "good"');
  });

  it('exits 0 on a clean signed topic, with the key given as hex and through the environment', async () => {
    const topic = await stableTopic(2);
    const c = await cache(topic, { signing: { keys: { k1: secret }, currentKeyId: 'k1' } });
    await c.set('a', 1, { durable: true });
    await c.set('b', new Map([[1, 2]]), { tags: ['t'], durable: true });
    await c.invalidateTags(['t'], { durable: true });
    const hex = `k1=hex:${Buffer.from(secret).toString('hex')}`;
    const outcome = await cli(['verify', '--topic', topic, '--json', '--key', hex]);
    expect(outcome.code, outcome.stdout).toBe(0);
    expect(JSON.parse(outcome.stdout)).toMatchObject({ ok: true, signaturesChecked: true, badCount: 0, checked: 4 });
    const fromEnv = await cli(['verify', '--topic', topic], { NEARCACHE_SIGNING_KEYS: `k1=${secret}` });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain('4 record(s) checked on 2 partition(s), signatures included: all good');
    const wrong = await cli(['verify', '--topic', topic], { NEARCACHE_SIGNING_KEYS: 'k1=some-other-secret-value' });
    expect(wrong.code).toBe(1);
  });
});

describe('tail', () => {
  it('prints records as they arrive, filtered by prefix, and ends cleanly on SIGINT', async () => {
    const topic = await stableTopic(1);
    const c = await cache(topic);
    await c.set('user:old', 'before the tail', { durable: true });
    const tail = startBin(['tail', '--topic', topic, '--prefix', 'user:', '--json', '--brokers', brokers.join(',')]);
    try {
      await waitFor(() => tail.stderr().includes('following topic'), { timeout: 60_000, message: () => `tail to start: ${tail.stderr()}` });
      await c.set('other', 'filtered out', { durable: true });
      await c.set('user:7', { n: 7n }, { durable: true });
      await c.delete('user:7', { durable: true });
      await waitFor(() => tail.stdout().split('\n').filter(Boolean).length >= 2, {
        timeout: 30_000,
        message: () => `two lines: ${tail.stdout()}${tail.stderr()}`,
      });
    } finally {
      tail.child.kill('SIGINT');
    }
    expect(await tail.exit).toBe(0);
    const lines = tail
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.op, l.key])).toEqual([
      ['set', 'user:7'],
      ['delete', 'user:7'],
    ]);
    expect(lines[0].value).toEqual({ n: { $bigint: '7' } });
    expect(tail.stderr()).toContain('stopped after 2 record(s)');
  });

  it('replays from the beginning in process, flags bad records, and stops when its signal aborts', async () => {
    const topic = await stableTopic(1);
    const c = await cache(topic);
    await c.set('a', 'one', { durable: true });
    const [junk] = await kafka.produce(topic, [{ key: 'junk', value: 'not a record' }]);
    const stop = new AbortController();
    const tail = startCli(['tail', '--topic', topic, '--from-beginning'], {}, { signal: stop.signal });
    try {
      await waitFor(() => tail.stdout().includes(`p0@${junk} BAD`), {
        timeout: 60_000,
        message: () => `the replayed records: ${tail.stdout()}${tail.stderr()}`,
      });
    } finally {
      stop.abort();
    }
    const result = await tail.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/p0@0 set +"a" = 'one'/);
    expect(result.stdout).toContain(`p0@${junk} BAD    "junk": missing-header`);
    expect(result.stderr).toContain('following topic');
  });
});

describe('exit codes and usage', () => {
  it("2 for a usage error, with the core option checks' messages", async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['inspect'], /--topic is required/],
      [['inspect', '--topic', 't', '--bogus'], /Unknown option '--bogus'/],
      [['inspect', '--topic', 't', '--prefix', 'x'], /--prefix does not apply to "inspect"/],
      [['get', '--topic', 't'], /"get" takes exactly one KEY/],
      [['inspect', '--topic', 't', '--brokers', 'no-port'], /option "brokers" must be a non-empty list of "host:port"/],
      [['inspect', '--topic', 't', '--timeout', 'soon'], /--timeout must be an integer/],
      [['verify', '--topic', 't', '--key', 'short=abc'], /at least 16 bytes/],
      [['verify', '--topic', 't', '--key', 'nokey'], /--key takes ID=SECRET/],
      [['get', 'k', '--topic', 't', '--codec', 'xml'], /--codec must be one of structured, json, buffer/],
      [['inspect', '--topic', 't', '--sasl-mechanism', 'plain'], /needs --sasl-username and a password/],
      [['inspect', '--topic', 't', '--tls-ca', '/nonexistent/ca.pem'], /cannot read the CA file/],
    ];
    for (const [args, message] of cases) {
      const outcome = await cli(args);
      expect(outcome.code, args.join(' ')).toBe(2);
      expect(outcome.stderr, args.join(' ')).toMatch(message);
    }
    const bin = await runBin(['inspect', '--topic', 't', '--json', '--bogus']);
    expect(bin.code).toBe(2);
    expect(bin.stderr).toContain('Run "nearcache help inspect" for the options.');
  });

  it('3 when the cluster cannot be reached; 1 for a missing topic; 0 for help and version', async () => {
    const unreachable = await runBin(['inspect', '--topic', 't', '--brokers', '127.0.0.1:1', '--timeout', '20000']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1/);
    const missing = await cli(['get', 'k', '--topic', `nc-test-missing-${Date.now()}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    const help = await runBin(['help', 'verify']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: nearcache verify --topic T');
    expect(help.stdout).toContain('Exit codes: 0 ok; 1 bad records');
    const stop = new AbortController();
    stop.abort();
    const interrupted = await cli(['verify', '--topic', `nc-test-missing-${Date.now()}`], {}, { signal: stop.signal });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain('nearcache: interrupted');
    const version = await runBin(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

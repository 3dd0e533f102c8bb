import { PassThrough } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectionFrom, parseCommandLine, TopicFold, toJsonValue, UsageError } from '@nearcache/cli';
import { parseRecord, RecordRejection, type LogRecord } from '@nearcache/core';
import { describe, expect, it } from 'vitest';
import { classify } from '../src/connection.js';
import { Progress } from '../src/output.js';
import { waitFor } from './support.js';

let offset = 0;
/** A version 3 record on partition 0 at the next offset. */
function record(key: string, line: string | null, payload: string | null, headers: Record<string, string> = {}): LogRecord {
  const value = line === null ? null : Buffer.from(`${line}\n${payload}`);
  return { partition: 0, offset: offset++, key: Buffer.from(key), value, headers, timestamp: 0 };
}

function fold(records: LogRecord[]): TopicFold {
  const f = new TopicFold(false);
  for (const r of records) {
    const parsed = parseRecord(r, { maxKeyBytes: 1024, maxValueBytes: 1 << 20 });
    if (parsed instanceof RecordRejection) throw new Error(`${parsed.reason}: ${parsed.detail}`);
    f.apply(r, parsed);
  }
  return f;
}

describe('the fold', () => {
  it('skips a fenced set when a plain write of its key by another origin came from its fence on', () => {
    offset = 0;
    const f = fold([
      record('k', '3 s 0 1 structured a', '"first"'),
      record('k', '3 s 0 1 structured b', '"plain by b"'),
      record('k', '3 s 0 2 structured a', '"loaded by a"', { 'nc-fence': '1' }),
    ]);
    expect(f.entries.get('k')?.offset).toBe(1);
  });

  it("applies a fenced set when the writes since its fence are its own origin's", () => {
    offset = 0;
    const f = fold([
      record('k', '3 s 0 1 structured b', '"by b"'),
      record('k', '3 s 0 1 structured a', '"by a"'),
      record('k', '3 s 0 2 structured a', '"loaded"', { 'nc-fence': '1' }),
    ]);
    expect(f.entries.get('k')?.offset).toBe(2);
  });

  it('skips a fenced set after a clear of its prefix or an invalidation of its tag by another origin', () => {
    offset = 0;
    const cleared = fold([
      {
        partition: 0,
        offset: offset++,
        key: Buffer.from('\u0000nc:clear:k'),
        value: Buffer.from('k'),
        headers: { 'nc-r': '3 c 0 1 structured b' },
        timestamp: 0,
      },
      record('k1', '3 s 0 2 structured a', '"stale"', { 'nc-fence': '0' }),
    ]);
    expect(cleared.entries.has('k1')).toBe(false);
    offset = 0;
    const tagged = fold([
      {
        partition: 0,
        offset: offset++,
        key: Buffer.from('\u0000nc:tag:t'),
        value: Buffer.from('t'),
        headers: { 'nc-r': '3 t 0 1 structured b' },
        timestamp: 0,
      },
      record('k1', '3 s 0 2 structured a', '"stale"', { 'nc-fence': '0', 'nc-tags': 't' }),
      record('k2', '3 s 0 3 structured a', '"other tag"', { 'nc-fence': '0', 'nc-tags': 'u' }),
    ]);
    expect([...tagged.entries.keys()]).toEqual(['k2']);
  });

  it('removes what a tombstone, a clear and a tag invalidation remove, and tells expired from live', () => {
    offset = 0;
    const f = fold([
      record('a', '3 s 0 1 structured o', '1'),
      record('b', '3 s 0 2 structured o', '2', { 'nc-tags': 'x\ny' }),
      record('p:c', '3 s 0 3 structured o', '3'),
      record('old', '3 s 1000 4 structured o', '4'),
      { partition: 0, offset: offset++, key: Buffer.from('a'), value: null, headers: { 'nc-r': '3 d 0 5 structured o' }, timestamp: 0 },
      {
        partition: 0,
        offset: offset++,
        key: Buffer.from('\u0000nc:tag:y'),
        value: Buffer.from('y'),
        headers: { 'nc-r': '3 t 0 6 structured o' },
        timestamp: 0,
      },
      {
        partition: 0,
        offset: offset++,
        key: Buffer.from('\u0000nc:clear:p:'),
        value: Buffer.from('p:'),
        headers: { 'nc-r': '3 c 0 7 structured o' },
        timestamp: 0,
      },
    ]);
    expect([...f.entries.keys()]).toEqual(['old']);
    expect(TopicFold.live(f.entries.get('old')!, 999)).toBe(true);
    expect(TopicFold.live(f.entries.get('old')!, 1000)).toBe(false);
  });
});

describe('JSON output of decoded values', () => {
  it('tags what JSON cannot hold, and keeps plain data as it is', () => {
    expect(toJsonValue({ a: [1, 'x', null, true] })).toEqual({ a: [1, 'x', null, true] });
    expect(
      toJsonValue({
        d: new Date(0),
        n: 12n,
        m: new Map([['k', new Set([1])]]),
        b: Buffer.from('hi'),
        u: undefined,
        nan: NaN,
        neg: -0,
        r: /a/g,
      }),
    ).toEqual({
      d: { $date: '1970-01-01T00:00:00.000Z' },
      n: { $bigint: '12' },
      m: { $map: [['k', { $set: [1] }]] },
      b: { $bytes: Buffer.from('hi').toString('base64') },
      u: { $undefined: true },
      nan: { $number: 'NaN' },
      neg: { $number: '-0' },
      r: { $regexp: '/a/g' },
    });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(toJsonValue(cycle)).toEqual({ self: { $cycle: true } });
  });
});

describe('the progress bar', () => {
  const io = (tty: boolean) => {
    const stderr = Object.assign(new PassThrough(), { isTTY: tty });
    let written = '';
    stderr.on('data', (c: Buffer) => (written += c.toString()));
    return { io: { stdout: new PassThrough(), stderr, env: {} }, written: () => written };
  };

  it('shows on a terminal once the read lasts past its delay, with the records read', async () => {
    const { io: target, written } = io(true);
    const progress = new Progress(target, true, 'verify', 200, 0);
    await waitFor(() => written().includes('verify ['), { timeout: 5000, message: 'the bar to show' });
    progress.update(100);
    progress.stop();
    expect(written()).toContain('/200 records');
  });

  it('stays silent when stderr is not a terminal, when disabled, and for reads shorter than its delay', async () => {
    for (const [tty, enabled, delay] of [
      [false, true, 0],
      [true, false, 0],
      [true, true, 10_000],
    ] as const) {
      const { io: target, written } = io(tty);
      const progress = new Progress(target, enabled, 'verify', 200, delay);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      progress.stop();
      expect(written(), `tty ${tty}, enabled ${enabled}, delay ${delay}`).toBe('');
    }
  });
});

describe('the command line', () => {
  it('parses commands, repeated keys and the help forms', () => {
    const line = parseCommandLine(['verify', '--topic', 't', '--key', 'a=1', '--key', 'b=2', '--json']);
    expect(line).toMatchObject({ command: 'verify', values: { topic: 't', key: ['a=1', 'b=2'], json: true } });
    expect(parseCommandLine([])).toMatchObject({ command: 'help' });
    expect(parseCommandLine(['get', '--help'])).toMatchObject({ command: 'help', helpFor: 'get' });
    expect(parseCommandLine(['help', 'tail'])).toMatchObject({ command: 'help', helpFor: 'tail' });
    expect(() => parseCommandLine(['verify', 'extra', '--topic', 't'])).toThrow(UsageError);
    expect(() => parseCommandLine(['tail', '--from-beginning=yes'])).toThrow(UsageError);
  });
});

describe('the connection settings', () => {
  const connection = (args: string[], env: Record<string, string> = {}) => connectionFrom(parseCommandLine(['inspect', ...args]), env);

  it('come from flags over environment variables, checked by the core (brokers as a list, defaults filled in)', () => {
    const fromEnv = connection([], { NEARCACHE_TOPIC: 'env-topic', NEARCACHE_BROKERS: 'a:1, b:2', NEARCACHE_CLIENT_ID: 'ops' });
    expect(fromEnv).toMatchObject({ topic: 'env-topic', timeout: 60_000, kafka: { brokers: ['a:1', 'b:2'], clientId: 'ops', groupIdPrefix: 'nearcache.' } });
    const fromFlags = connection(['--topic', 'flag-topic', '--brokers', 'c:3', '--group-id-prefix', 'ops.', '--timeout', '5000'], {
      NEARCACHE_TOPIC: 'env-topic',
      KAFKA_BROKERS: 'a:1',
    });
    expect(fromFlags).toMatchObject({ topic: 'flag-topic', timeout: 5000, kafka: { brokers: ['c:3'], groupIdPrefix: 'ops.', requestTimeout: 5000 } });
  });

  it('read TLS files and take SASL credentials, the password from the environment', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nearcache-cli-'));
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(path.join(dir, name), `-----${name}-----\n`);
    const tls = connection(['-t', 't', '-b', 'h:9093', '--tls-ca', path.join(dir, 'ca.pem')], {
      NEARCACHE_TLS_CERT: path.join(dir, 'cert.pem'),
      NEARCACHE_TLS_KEY: path.join(dir, 'key.pem'),
      NEARCACHE_SASL_MECHANISM: 'scram-sha-512',
      NEARCACHE_SASL_USERNAME: 'ops',
      NEARCACHE_SASL_PASSWORD: 'pw',
    });
    expect(tls.kafka.ssl).toEqual({ ca: '-----ca.pem-----\n', cert: '-----cert.pem-----\n', key: '-----key.pem-----\n' });
    expect(tls.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'ops', password: 'pw' });
    expect(connection(['-t', 't', '-b', 'h:9093', '--tls']).kafka.ssl).toBe(true);
    expect(() => connection(['-t', 't', '-b', 'h:9093', '--tls-cert', path.join(dir, 'cert.pem')])).toThrow(/--tls-cert and --tls-key go together/);
    expect(() => connection(['-t', 't', '-b', 'h:9093', '--sasl-username', 'u'])).toThrow(/need --sasl-mechanism/);
  });
});

describe('errors from Kafka', () => {
  it('map to exit code 3 when the cluster is not reached or refuses us, 4 otherwise', () => {
    const error = (name: string, message: string, type?: string) => Object.assign(new Error(message), { name, type });
    expect(classify(error('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:1'), undefined).exitCode).toBe(3);
    expect(classify(error('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed'), undefined).exitCode).toBe(3);
    expect(
      classify(error('KafkaJSProtocolError', 'Not authorized to access topics: [Topic authorization failed]', 'TOPIC_AUTHORIZATION_FAILED'), undefined)
        .exitCode,
    ).toBe(3);
    expect(classify(error('KafkaJSProtocolError', 'The group is rebalancing', 'REBALANCE_IN_PROGRESS'), undefined).exitCode).toBe(4);
  });
});

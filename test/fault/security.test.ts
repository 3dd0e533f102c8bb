import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BootstrapTimeoutError,
  createNearCache,
  encryptedCodec,
  jsonCodec,
  LogUnavailableError,
  silentLogger,
  type KafkaLogOptions,
  type NearCache,
  type NearCacheOptions,
  type RejectedRecord,
} from '@nearcache/core';
import { addListener, startCluster, type LocalCluster } from '../../scripts/kafka/local-kafka.mjs';
import { freePort } from '../../scripts/lib/shared.mjs';
import { foreignSet } from '../helpers/records.js';
import { makeCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';

// Guarantees: on a broker that only accepts SASL/SCRAM-SHA-512 over TLS, the cache connects
// with credentials and is refused without them; signed records reject unsigned and forged
// ones; encrypted values are not readable on the topic.
const USER = 'alice';
const PASSWORD = 'alice-secret-0123';
let certs: TestCertificates;
let cluster: LocalCluster;
let secure: string[];
const caches: Array<NearCache<any>> = [];

beforeAll(async () => {
  certs = makeCertificates();
  const port = await freePort();
  cluster = await startCluster({
    nodes: 1,
    name: 'fault-sasl-ssl',
    basePort: 0,
    log: () => undefined,
    stopOnExit: true,
    // The SCRAM credentials are in the cluster metadata from the start.
    formatArgs: ['--add-scram', `SCRAM-SHA-512=[name=${USER},password=${PASSWORD}]`],
    // Clients get a SASL_SSL listener; the controller and inter-broker listeners (and the
    // harness's readiness probes) stay on their own plaintext ports on 127.0.0.1.
    brokerConfig: (_node, base) => ({
      ...addListener(base, { name: 'SASL_SSL', protocol: 'SASL_SSL', port }),
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': certs.keystore,
      'ssl.keystore.password': certs.password,
      'ssl.key.password': certs.password,
      'ssl.client.auth': 'none',
    }),
  });
  secure = [`127.0.0.1:${port}`];
});

afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await cluster?.stop();
  certs?.remove();
});

const topicName = () => `nc-secure-${randomBytes(4).toString('hex')}`;
// A fresh object each time: kafkajs stores an authenticator bound to the password on the sasl
// object it is given, so a copy of a used object would carry the original password along.
const scram = (password = PASSWORD) => ({ mechanism: 'scram-sha-512' as const, username: USER, password });

function kafkaOptions(extra: Partial<KafkaLogOptions>): KafkaLogOptions {
  return { brokers: secure, logLevel: 'nothing', requestTimeout: 5000, connectionTimeout: 2000, sessionTimeout: 10_000, heartbeatInterval: 1000, ...extra };
}

function open(topic: string, kafka: Partial<KafkaLogOptions>, extra: Partial<NearCacheOptions<any>> = {}): NearCache<any> {
  const cache = createNearCache<any>({ topic, kafka: kafkaOptions(kafka), logger: silentLogger, lagPollInterval: 200, closeTimeout: 2000, ...extra });
  cache.on('error', () => undefined);
  caches.push(cache);
  return cache;
}

/** A raw client with the credentials, for reading and writing the topic around the cache. */
function rawClient(): kafkajs.Kafka {
  return new kafkajs.Kafka({ clientId: 'nc-security-test', brokers: secure, ssl: { ca: [certs.ca] }, sasl: scram(), logLevel: kafkajs.logLevel.NOTHING });
}

async function rawValues(topic: string, count: number): Promise<Buffer[]> {
  const consumer = rawClient().consumer({ groupId: `nc-security-reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 100 });
  const values: Buffer[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value ?? Buffer.alloc(0)) });
    await waitFor(() => values.length >= count, { timeout: 30_000, message: `${count} records on ${topic}` });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

describe('SASL/SCRAM-SHA-512 over TLS', () => {
  it('with credentials and the CA: ready, and replicates', async () => {
    const topic = topicName();
    const auth = { ssl: { ca: [certs.ca] }, sasl: scram() };
    const a = open(topic, auth);
    await a.ready({ timeout: 60_000 });
    const b = open(topic, auth);
    await b.ready({ timeout: 60_000 });
    await a.set('hello', { from: 'a' }, { durable: true });
    await waitFor(() => b.get('hello')?.from === 'a', { timeout: 20_000, message: 'replication over SASL_SSL' });
  });

  it('with a wrong password: ready() rejects with a non-retriable LogUnavailableError, and the cache closes', async () => {
    const cache = open(topicName(), { ssl: { ca: [certs.ca] }, sasl: scram('wrong-password') });
    const error = await cache.ready({ timeout: 60_000 }).then(
      () => `ready() resolved (state ${cache.state})`,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LogUnavailableError);
    expect(error).toMatchObject({ code: 'NC_LOG_UNAVAILABLE', retriable: false });
    expect(String((error as Error).message)).toMatch(/SASL|auth/i);
    await waitFor(() => cache.state === 'closed', { message: 'the cache to close after a fatal start error' });
  });

  it('without SASL, without TLS, or without trusting the CA: refused, ready() rejects with a typed error', async () => {
    const attempts: Array<[string, Partial<KafkaLogOptions>]> = [
      ['plaintext, no credentials', {}],
      ['TLS without SASL', { ssl: { ca: [certs.ca] } }],
      ['SASL without TLS', { sasl: scram() }],
      ['TLS with an untrusted certificate', { ssl: true, sasl: scram() }],
    ];
    const results = await Promise.all(
      attempts.map(async ([label, kafka]) => {
        const cache = open(topicName(), kafka);
        const error = await cache.ready({ timeout: 8000 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        return { label, error, state: cache.state, entries: cache.size };
      }),
    );
    for (const { label, error, state } of results) {
      expect(error, label).toBeDefined();
      // Retried until the deadline (the broker drops the connection), or refused for good.
      expect(error instanceof BootstrapTimeoutError || error instanceof LogUnavailableError, `${label}: ${String(error)}`).toBe(true);
      expect(state, label).not.toBe('live');
    }
  });

  it('signed and encrypted records on the secured topic: values unreadable on the wire; unsigned and forged records rejected and counted', async () => {
    const topic = topicName();
    const auth = { ssl: { ca: [certs.ca] }, sasl: scram() };
    const codec = encryptedCodec(jsonCodec(), { keys: { '2026-11': randomBytes(32) }, currentKeyId: '2026-11' });
    const signing = { keys: { s1: randomBytes(32) }, currentKeyId: 's1' };
    const a = open(topic, auth, { codec, signing });
    await a.ready({ timeout: 60_000 });
    const b = open(topic, auth, { codec, signing });
    await b.ready({ timeout: 60_000 });
    const rejected: RejectedRecord[] = [];
    b.on('rejected', (r) => rejected.push(r));
    await a.set('card', { number: '4111-1111-1111-1111' }, { durable: true });
    await waitFor(() => b.get('card')?.number === '4111-1111-1111-1111', { timeout: 20_000, message: 'the encrypted, signed value replicated' });

    // On the topic, the value is ciphertext.
    const [raw] = await rawValues(topic, 1);
    expect(raw!.toString('latin1')).not.toContain('4111');

    // An unsigned record and one signed with another key, written by a client with topic access.
    const producer = rawClient().producer();
    await producer.connect();
    const unsigned = foreignSet('card', { number: 'forged' }).headers as Record<string, string>;
    const forgedHeaders = { ...unsigned, 'nc-sig': `s1:${randomBytes(32).toString('base64')}` };
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'card', value: Buffer.from(codec.encode({ number: 'unsigned' })), headers: unsigned },
        { key: 'card', value: Buffer.from(codec.encode({ number: 'forged' })), headers: forgedHeaders },
      ],
    });
    await producer.disconnect();
    await waitFor(() => rejected.length >= 2, { timeout: 20_000, message: 'the forged records to be rejected' });
    expect(rejected.map((r) => r.reason)).toEqual(['bad-signature', 'bad-signature']);
    expect(b.stats().records.rejectedByReason).toEqual({ 'bad-signature': 2 });
    await waitFor(() => a.stats().records.rejected === 2, { timeout: 20_000, message: 'the writer to reject them too' });
    expect(b.get('card')).toEqual({ number: '4111-1111-1111-1111' });
    expect(a.get('card')).toEqual({ number: '4111-1111-1111-1111' });

    // A fresh instance with the keys rebuilds the same state.
    const fresh = open(topic, auth, { codec, signing });
    await fresh.ready({ timeout: 60_000 });
    expect(fresh.get('card')).toEqual({ number: '4111-1111-1111-1111' });
    expect(fresh.stats().records.rejectedByReason).toEqual({ 'bad-signature': 2 });
  });
});

// 5. Cold bootstrap: a fresh process reads a topic of records of about 200 B from the start;
// nearcache until ready() vs a raw kafkajs consumer draining the topic to its end offset and
// keeping every record in an lru-cache under its key (drain+LRU: the least any cache built on
// kafkajs and lru-cache does), the target's baseline; the bare drain (keeping nothing) is reported
// beside it. A second drain+LRU per round (rawLru2) gives the A/A comparison behind the noise band.
//
// Each child loads what its side's user would: the drains kafkajs and lru-cache, before their
// clock starts; nearcache's child only @nearcache/core, which loads kafkajs when the cache first
// connects (in its time). A nearcache child that loaded kafkajs up front, as this file once did
// for every side, promoted about a third more bytes out of its young generation and spent 15 to
// 40% longer in its collections (0.1 to 0.25 s of 4); the drains load it up front either way.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BROKERS, QUICK, check, log, makeValue, median, noise, report, roundOrder, roundRatios, uniqueTopic, verdictFields, wallMs } from '../lib.mjs';

const role = process.argv[2];
const client = async () => {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  return new Kafka({ clientId: 'bench-bootstrap', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
};

if (role === 'raw' || role === 'rawLru') {
  // Child: drain the topic with kafkajs, as fast as it goes (rawLru: and keep every record's
  // bytes in an lru-cache under its key, the least any cache must do: the target's baseline).
  // Timed from before its Kafka client and its LRU are made, as nearcache's are in its time.
  const { LRUCache } = await import('lru-cache');
  await import('kafkajs');
  const [topic, count] = [process.argv[3], Number(process.argv[4])];
  const started = wallMs();
  const kafka = await client();
  const lru = role === 'rawLru' ? new LRUCache({ max: count + 1000 }) : undefined;
  const consumer = kafka.consumer({ groupId: `bench-drain-${process.pid}`, maxBytesPerPartition: 10 * 1024 * 1024, maxBytes: 50 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let sink = 0;
  await new Promise((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (lru) for (const m of batch.messages) lru.set(m.key.toString(), m.value.toString('latin1'));
        else for (const m of batch.messages) sink += m.value.length;
        seen += batch.messages.length;
        if (Number(batch.lastOffset()) + 1 >= count) resolve();
      },
    });
  });
  const ms = wallMs() - started;
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ ms, seen: lru ? lru.size : seen, sink }));
  process.exit(0);
} else if (role === 'ours') {
  const { createNearCache, silentLogger } = await import('@nearcache/core');
  const [topic, count] = [process.argv[3], Number(process.argv[4])];
  const started = wallMs();
  const cache = createNearCache({ topic, kafka: { brokers: BROKERS }, max: count + 1000, maxBytes: 0, logger: silentLogger });
  await cache.ready({ timeout: 120_000 });
  const ms = wallMs() - started;
  const entries = cache.size;
  await cache.close();
  process.stdout.write(JSON.stringify({ ms, seen: entries }));
  process.exit(0);
}

// Scenario: fill a topic in the cache's record format, then time fresh processes reading it.
const COUNT = QUICK ? 100_000 : 1_000_000;
const ROUNDS = QUICK ? 2 : 5;
const topic = uniqueTopic('bootstrap');
const kafka = await client();
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
await admin.disconnect();
const producer = kafka.producer({ idempotent: false, maxInFlightRequests: 1 });
await producer.connect();
const fillStarted = wallMs();
let bytes = 0;
for (let b = 0; b < COUNT; b += 2000) {
  const messages = [];
  for (let i = b; i < Math.min(COUNT, b + 2000); i++) {
    const value = JSON.stringify(makeValue(i));
    bytes += value.length;
    // A set in the cache's record format (version 3): its metadata line, naming the default
    // codec, then the value as that codec writes plain JSON data (JSON text).
    messages.push({ key: `boot:${i}`, value: `3 s 0 ${i + 1} structured bench-filler.0a1b2c3d\n${value}` });
  }
  await producer.send({ topic, acks: 1, messages });
}
await producer.disconnect();
log(`bootstrap: wrote ${COUNT} records to ${topic} (${(bytes / COUNT).toFixed(0)} B values) in ${((wallMs() - fillStarted) / 1000).toFixed(1)} s`);

function child(kind) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), kind, topic, String(COUNT)], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bootstrap ${kind} child exited with ${code}`))));
  });
}

const times = { ours: [], raw: [], rawLru: [], rawLru2: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const side of roundOrder(r, ['raw', 'rawLru', 'ours', 'rawLru2'])) {
    const result = await child(side === 'rawLru2' ? 'rawLru' : side);
    if (result.seen !== COUNT) throw new Error(`${side} saw ${result.seen} of ${COUNT} records`);
    times[side].push(result.ms);
    log(`bootstrap ${side}: ${(result.ms / 1000).toFixed(2)} s`);
  }
}
const ours = median(times.ours),
  raw = median(times.raw),
  rawLru = median(times.rawLru);
// Records per second, ours over drain+LRU's (the target) and over the bare drain's (reported).
const ratio = COUNT / ours / (COUNT / rawLru);
const rawRatio = raw / ours;
// The ready deadline is for 1M records; a quick run reads fewer, so it scales the limit.
const limitMs = 15_000 * (COUNT / 1_000_000);
// A/A in records per second, as the ratio: rawLru2's rate over rawLru's.
const band = noise({ aa: rawLru / median(times.rawLru2), rounds: roundRatios(times.rawLru, times.rawLru2) });
const checks = [check('', ratio, '>=', 0.9, band), check('ready (ms)', ours, '<=', limitMs)];
report({
  scenario: 'bootstrap',
  title: `cold bootstrap of ${COUNT} records vs raw kafkajs drain into lru-cache`,
  method: `fresh process per measurement, ${ROUNDS} interleaved rounds; time from before the client is made (its Kafka client and its LRU made, connect included) to ready() / last offset consumed; the baseline keeps every value (as a string) in an lru-cache under its key; also measured: the bare drain, keeping nothing; A/A: a second drain+LRU per round, the noise band of the ratio`,
  ratio,
  measured: `${ratio.toFixed(2)}x drain+LRU, ${rawRatio.toFixed(2)}x bare drain, ready ${(ours / 1000).toFixed(1)} s`,
  ratioLabel: 'ours/drain+LRU records per second',
  target: `>= 0.9x drain+LRU, ready <= ${(limitMs / 1000).toFixed(1)} s`,
  ...verdictFields(checks),
  aa: { ratio: band.aa, rawLru2: { ms: median(times.rawLru2), rounds: times.rawLru2 } },
  records: COUNT,
  valueBytes: bytes / COUNT,
  raw: {
    ms: raw,
    recordsPerSec: COUNT / (raw / 1000),
    rounds: times.raw,
    ratio: rawRatio,
    note: 'bare kafkajs drain keeping nothing: reported beside the target',
  },
  ours: { ms: ours, recordsPerSec: COUNT / (ours / 1000), rounds: times.ours },
  rawLru: {
    ms: rawLru,
    recordsPerSec: COUNT / (rawLru / 1000),
    rounds: times.rawLru,
    note: 'raw kafkajs drain that also keeps each value (as a string) in an lru-cache under its key: the target baseline, the floor of any cache built on kafkajs and lru-cache',
  },
});

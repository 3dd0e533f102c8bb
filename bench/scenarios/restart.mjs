// Restart: a fresh process starts on a topic of records of about 200 B; time to ready() with a
// local snapshot (option `snapshot`, docs/snapshots.md) vs a full read of the topic, in one run.
// Both starts must end with the same entries.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { createNearCache, silentLogger } from '@nearcache/core';
import { BROKERS, QUICK, check, fact, log, makeValue, median, noise, report, roundRatios, uniqueTopic, verdictFields, wallMs } from '../lib.mjs';

const { Kafka, logLevel } = kafkajs;
const role = process.argv[2];

/** A digest of the entries (sorted by key): equal digests, equal states. */
function digest(cache) {
  const entries = [...cache.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const hash = createHash('sha256');
  for (const [key, value] of entries) hash.update(`${key}\n${JSON.stringify(value)}\n`);
  return hash.digest('hex');
}

if (role === 'full' || role === 'snapshot') {
  // Child: `full` starts without a snapshot (the file is removed first), reads the whole topic,
  // and writes the snapshot at close; `snapshot` starts from that snapshot.
  const [topic, count, file] = [process.argv[3], Number(process.argv[4]), process.argv[5]];
  if (role === 'full') fs.rmSync(file, { force: true });
  const started = wallMs();
  const cache = createNearCache({
    topic,
    kafka: { brokers: BROKERS },
    max: count + 1000,
    maxBytes: 0,
    logger: silentLogger,
    snapshot: { path: file, interval: 0 },
  });
  let load;
  cache.on('snapshot', (r) => r.op === 'load' && (load = r));
  await cache.ready({ timeout: 300_000 });
  const ms = wallMs() - started;
  const entries = cache.size;
  const state = digest(cache);
  await cache.close();
  const written = cache.stats().snapshot?.lastWrite;
  process.stdout.write(
    JSON.stringify({
      ms,
      loadMs: load?.ms,
      entries,
      state,
      load: load?.outcome,
      reason: load?.reason,
      written: written?.outcome,
      bytes: written?.bytes,
      writeMs: written?.ms,
    }),
  );
  process.exit(0);
}

// Scenario: fill a topic in the cache's record format, then alternate full reads and snapshot starts.
const COUNT = QUICK ? 100_000 : 1_000_000;
const ROUNDS = QUICK ? 1 : 5;
const topic = uniqueTopic('restart');
const kafka = new Kafka({ clientId: 'bench-restart', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
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
    // A set in the cache's record format (version 3), naming the default codec, then the value as JSON text.
    messages.push({ key: `restart:${i}`, value: `3 s 0 ${i + 1} structured bench-filler.0a1b2c3d\n${value}` });
  }
  await producer.send({ topic, acks: 1, messages });
}
await producer.disconnect();
log(`restart: wrote ${COUNT} records to ${topic} (${(bytes / COUNT).toFixed(0)} B values) in ${((wallMs() - fillStarted) / 1000).toFixed(1)} s`);

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-bench-restart-'));
const file = path.join(directory, 'restart.ncsnap');
function child(kind) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), kind, topic, String(COUNT), file], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`restart ${kind} child exited with ${code}`))));
  });
}

// A/A: a second start from the same snapshot per round, the noise band of the ratio.
const times = { full: [], snapshot: [], again: [] };
const states = new Set();
let snapshotBytes = 0;
let writeMs = 0;
try {
  for (let r = 0; r < ROUNDS; r++) {
    const full = await child('full');
    if (full.entries !== COUNT) throw new Error(`the full read holds ${full.entries} of ${COUNT} entries`);
    if (full.written !== 'written') throw new Error(`the snapshot was not written at close (${full.written})`);
    snapshotBytes = full.bytes;
    writeMs = full.writeMs;
    // The two starts from the snapshot take turns at going first (right after the full read).
    const first = await child('snapshot');
    const second = await child('snapshot');
    const [warm, again] = r % 2 === 0 ? [first, second] : [second, first];
    if (warm.load !== 'loaded') throw new Error(`the snapshot was not loaded (${warm.load} ${warm.reason ?? ''})`);
    if (again.load !== 'loaded') throw new Error(`the snapshot was not loaded again (${again.load} ${again.reason ?? ''})`);
    times.full.push(full.ms);
    times.snapshot.push(warm.ms);
    times.again.push(again.ms);
    states.add(full.state).add(warm.state).add(again.state);
    log(
      `restart round ${r + 1}: full read ${(full.ms / 1000).toFixed(2)} s, from snapshot ${(warm.ms / 1000).toFixed(2)} s and again ${(again.ms / 1000).toFixed(2)} s (of which reading, checking and restoring it ${warm.loadMs} ms; snapshot ${(full.bytes / 1e6).toFixed(0)} MB written in ${full.writeMs} ms)`,
    );
  }
} finally {
  fs.rmSync(directory, { recursive: true, force: true });
}
const full = median(times.full),
  warm = median(times.snapshot);
const ratio = full / warm;
const equal = states.size === 1;
const band = noise({ aa: median(times.again) / warm, rounds: roundRatios(times.again, times.snapshot) });
const checks = [check('', ratio, '>=', 10, band), fact('same entries', equal)];
report({
  scenario: 'restart',
  title: `restart on ${COUNT} records: ready from a local snapshot vs a full read`,
  method: `fresh process per start, not pinned to a CPU (the snapshot is read and checked on a worker thread while the cache connects), both starts alike; ${ROUNDS} round(s) of a full read (which writes the snapshot at close) then two starts from that snapshot, taking turns at going first; time from process start of the client (connect included) to ready(); entries compared by a digest of every key and value; A/A: the other start from the snapshot of each round against the measured one, the noise band of the ratio`,
  ratio,
  measured: `${ratio.toFixed(1)}x, ready ${(warm / 1000).toFixed(2)} s vs ${(full / 1000).toFixed(2)} s; states ${equal ? 'equal' : 'DIFFER'}`,
  ratioLabel: 'full read time / snapshot start time',
  target: '>= 10x, same entries',
  ...verdictFields(checks),
  aa: { ratio: band.aa, again: { ms: median(times.again), rounds: times.again } },
  records: COUNT,
  valueBytes: bytes / COUNT,
  full: { ms: full, rounds: times.full },
  snapshot: { ms: warm, rounds: times.snapshot, bytes: snapshotBytes, writeMs },
  statesEqual: equal,
});

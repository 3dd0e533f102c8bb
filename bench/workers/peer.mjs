// A second process on the same broker, driven over IPC by a scenario: it holds a nearcache
// instance and/or raw kafkajs clients, writes at a paced rate or as fast as it can, and records
// when keys become visible.
import kafkajs from 'kafkajs';
import { createNearCache, jsonCodec, silentLogger } from '@nearcache/core';
import { BROKERS, makeValue, serveCommands, sleep, tick, wallMs } from '../lib.mjs';

const { Kafka, logLevel } = kafkajs;
const kafka = new Kafka({ clientId: 'bench-peer', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });

let cache;
let producer;
let consumer;
const arrivals = new Map();
/** When session tokens arrived (`awaitToken`), by key. */
const received = new Map();
/** When remote values became visible (`openOurs` with `watch: 'visible'`), by key, beside `arrivals`. */
const visible = new Map();

async function writePaced({ impl, topic, prefix, n, rate }) {
  const sent = new Array(n);
  // raw: kafkajs used as the cache uses it, one send in flight and the next one carrying every
  // message written meanwhile; a send per message would pile up requests and measure queueing.
  const pending = [];
  let sending;
  const pump = () => {
    if (sending || pending.length === 0) return;
    sending = producer.send({ topic, acks: -1, messages: pending.splice(0) }).finally(() => {
      sending = undefined;
      pump();
    });
  };
  const start = wallMs() + 5;
  const interval = 1000 / rate;
  for (let i = 0; i < n;) {
    const due = start + i * interval;
    const wait = due - wallMs();
    if (wait > 1) await sleep(Math.floor(wait));
    else if (wait > 0) await tick();
    // Write everything due by now (a timer may fire late).
    while (i < n && start + i * interval <= wallMs()) {
      const k = `${prefix}${i}`;
      const value = makeValue(i);
      sent[i] = wallMs();
      if (impl === 'ours') void cache.set(k, value);
      else {
        pending.push({ key: k, value: JSON.stringify(value) });
        pump();
      }
      i++;
    }
  }
  if (impl === 'ours') await cache.flush({ timeout: 30_000 });
  while (sending) await sending;
  return sent;
}

/**
 * Paced sets, each followed by `sessionToken()`; every token is sent to the scenario process as
 * an event (`{ event: 'token', key, token }`) the moment it resolves. Returns when each write
 * began (`sent`) and when its token was ready (`ready`).
 */
async function writeTokens({ prefix, n, rate }) {
  const sent = new Array(n);
  const ready = new Array(n);
  const tokens = [];
  const start = wallMs() + 5;
  const interval = 1000 / rate;
  for (let i = 0; i < n;) {
    const due = start + i * interval;
    const wait = due - wallMs();
    if (wait > 1) await sleep(Math.floor(wait));
    else if (wait > 0) await tick();
    while (i < n && start + i * interval <= wallMs()) {
      const key = `${prefix}${i}`;
      sent[i] = wallMs();
      void cache.set(key, makeValue(i));
      const index = i;
      tokens.push(
        cache.sessionToken({ timeout: 30_000 }).then((token) => {
          ready[index] = wallMs();
          process.send({ event: 'token', key, token });
        }),
      );
      i++;
    }
  }
  await Promise.all(tokens);
  return { sent, ready };
}

async function writeBurst({ impl, topic, prefix, n }) {
  const started = wallMs();
  if (impl === 'ours') {
    for (let i = 0; i < n; i++) {
      void cache.set(`${prefix}${i}`, makeValue(i));
      if (i % 1000 === 999) {
        await tick();
        while (cache.stats().queue.depth > 20_000) await sleep(1);
      }
    }
    await cache.flush({ timeout: 120_000 });
  } else {
    for (let b = 0; b < n; b += 1000) {
      const messages = [];
      for (let i = b; i < Math.min(n, b + 1000); i++) {
        messages.push({ key: `${prefix}${i}`, value: JSON.stringify(makeValue(i)) });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  }
  return wallMs() - started;
}

async function converged({ prefix, n, timeoutMs }) {
  const started = wallMs();
  for (;;) {
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const v = cache.get(`${prefix}${i}`);
      if (v === undefined || v.id !== i) missing++;
    }
    if (missing === 0) return { ok: true, ms: wallMs() - started };
    if (wallMs() - started > timeoutMs) return { ok: false, missing, ms: wallMs() - started };
    await sleep(20);
  }
}

const handlers = {
  /** `codec: 'json'`: the JSON codec, to read what a sidecar writes; otherwise the default codec. */
  async openOurs({ topic, max = 1_000_000, watch = false, replication = 'inline', codec }) {
    cache = createNearCache({
      topic,
      kafka: { brokers: BROKERS },
      replication,
      max,
      maxBytes: 0,
      logger: silentLogger,
      maxQueuedWrites: 100_000,
      ...(codec === 'json' ? { codec: jsonCodec() } : {}),
    });
    const seen = watch === 'visible' ? visible : arrivals;
    if (watch)
      cache.on('change', (c) => {
        if (c.source === 'remote') seen.set(c.key, wallMs());
      });
    await cache.ready({ timeout: 60_000 });
  },
  async openProducer({ pipelined = false } = {}) {
    // pipelined: kafkajs's defaults (requests pipelined on the connection), as a plain producer
    // sending one message per call is used; otherwise one request in flight, as the cache's producer.
    producer = kafka.producer(pipelined ? { allowAutoTopicCreation: false } : { idempotent: false, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
  },
  async openConsumer({ topic }) {
    consumer = kafka.consumer({ groupId: `bench-raw-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let assigned;
    const joined = new Promise((resolve) => {
      assigned = resolve;
    });
    consumer.on(consumer.events.GROUP_JOIN, () => assigned());
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) arrivals.set(m.key.toString(), wallMs());
      },
    });
    await joined;
  },
  writePaced,
  writeTokens,
  writeBurst,
  /** Waits (without holding the reply) until the cache reached `token`, then notes when under `key`. */
  async awaitToken({ key, token }) {
    cache.catchUpTo(token, { timeout: 30_000 }).then(
      () => arrivals.set(key, wallMs()),
      () => undefined,
    );
    received.set(key, wallMs());
    return null;
  },
  /** When each token arrived here (`awaitToken`), by key; forgets them. */
  async received({ prefix, n }) {
    const out = new Array(n).fill(null);
    for (let i = 0; i < n; i++) out[i] = received.get(`${prefix}${i}`) ?? null;
    for (let i = 0; i < n; i++) received.delete(`${prefix}${i}`);
    return out;
  },
  /** When each value became visible here (`watch: 'visible'`), by key; forgets them. */
  async visible({ prefix, n }) {
    const out = new Array(n).fill(null);
    for (let i = 0; i < n; i++) out[i] = visible.get(`${prefix}${i}`) ?? null;
    for (let i = 0; i < n; i++) visible.delete(`${prefix}${i}`);
    return out;
  },
  converged,
  async count({ prefix, n }) {
    let seen = 0;
    for (let i = 0; i < n; i++) if (arrivals.has(`${prefix}${i}`)) seen++;
    if (seen === n) for (let i = 0; i < n; i++) arrivals.delete(`${prefix}${i}`);
    return seen;
  },
  async arrivals({ prefix, n }) {
    const out = new Array(n).fill(null);
    for (let i = 0; i < n; i++) out[i] = arrivals.get(`${prefix}${i}`) ?? null;
    for (let i = 0; i < n; i++) arrivals.delete(`${prefix}${i}`);
    return out;
  },
  async close() {
    await Promise.allSettled([cache?.close(), producer?.disconnect(), consumer?.disconnect()]);
    setImmediate(() => process.exit(0));
  },
};

serveCommands(handlers);

import type { Producer } from 'kafkajs';
import type { NearCache } from '@nearcache/core';
import type { KafkaTestClient } from './kafka.js';
import { foreignSet } from './records.js';

export interface Probes {
  /** Probes every instance holds. */
  seenByAll(): number;
  /** True once instance `i` holds a probe sent at or after `at` (ms since the epoch). */
  seenAfter(i: number, at: number): boolean;
  /** Ms from `at` until the first probe sent at or after `at` was acknowledged; -1 if none was yet. */
  firstAckAfter(at: number): number;
  stop(): void;
}

/**
 * Writes a probe record straight to the topic every `everyMs` (not through any instance, so every
 * instance has to read it from the log), each on a key of its own, without waiting for the
 * previous one: a send stuck in retries during an outage does not delay the next.
 */
export function startProbes(client: KafkaTestClient, topic: string, caches: Array<NearCache<unknown>>, everyMs = 200): Probes {
  const sent: Array<{ key: string; at: number; ackedAt: number }> = [];
  let producer: Producer | undefined = client.kafka.producer({
    allowAutoTopicCreation: false,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const connected = producer.connect();
  let n = 0;
  const timer = setInterval(() => {
    const key = `probe-${++n}`;
    const entry = { key, at: Date.now(), ackedAt: 0 };
    sent.push(entry);
    const record = foreignSet(key, { n, at: entry.at }, { origin: 'probe-writer', writeId: n });
    void connected
      .then(() =>
        producer?.send({
          topic,
          acks: -1,
          messages: [
            {
              key,
              value: Buffer.from(record.value as Uint8Array),
              headers: Object.fromEntries(Object.entries(record.headers ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
            },
          ],
        }),
      )
      .then(
        () => (entry.ackedAt = Date.now()),
        () => undefined,
      );
  }, everyMs);
  const holds = (i: number, key: string) => caches[i]!.get(key) !== undefined;
  return {
    seenByAll: () => sent.filter((p) => caches.every((_, i) => holds(i, p.key))).length,
    seenAfter: (i, at) => sent.some((p) => p.at >= at && holds(i, p.key)),
    firstAckAfter: (at) => {
      const acked = sent.filter((p) => p.at >= at && p.ackedAt > 0).map((p) => p.ackedAt);
      return acked.length === 0 ? -1 : Math.min(...acked) - at;
    },
    stop: () => {
      clearInterval(timer);
      const p = producer;
      producer = undefined;
      void connected.then(() => p?.disconnect()).catch(() => undefined);
    },
  };
}

import type { Batch } from 'kafkajs';
import type { LogRecord } from '../../record.js';
import { headerStrings } from './headers.js';

/**
 * The records of a fetched batch, as the cache reads them. Each message's key and value move to
 * its record, and the message lets them go: kafkajs keeps its message objects until the whole
 * batch is processed, and when most of them outlive a young-generation collection (as a long
 * batch being applied does), V8 allocates the later ones straight in the old generation
 * (allocation-site pretenuring). An old message holding its key and value, views of the fetch
 * response, would keep the response's buffer alive until the next full collection: a bootstrap
 * then promoted every fetch response and ran a full collection at each 64 MB of them (V8's limit
 * for outside memory), a third slower. kafkajs reads only a message's offset after `eachBatch`.
 */
export function logRecords(batch: Batch): LogRecord[] {
  const partition = batch.partition;
  return batch.messages.map((message) => {
    const record: LogRecord = {
      partition,
      offset: Number(message.offset),
      key: message.key,
      value: message.value,
      headers: message.headers ? headerStrings(message.headers) : {},
      timestamp: Number(message.timestamp),
    };
    message.key = null;
    message.value = null;
    return record;
  });
}

/**
 * Waits for `work`, the cache taking a batch, sending the consumer's heartbeat every `interval`
 * ms meanwhile: a cache slow to take a batch (a replication worker whose cache is behind, a long
 * apply) keeps the consumer's place in its group. kafkajs sends a heartbeat only once `interval`
 * passed since the last one was answered (and drops earlier asks at no cost), so it is asked
 * ten times as often: asked exactly every `interval`, every other ask would come a round trip
 * too soon. One that fails is left to kafkajs: its own loop sends the next once the batch was
 * taken, and acts on the error.
 */
export async function whileBeating(work: Promise<void>, heartbeat: () => Promise<void>, interval: number): Promise<void> {
  const timer = setInterval(() => void heartbeat().catch(() => undefined), Math.max(1, interval / 10));
  timer.unref();
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
}

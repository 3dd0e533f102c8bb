/**
 * The replication worker's thread: one Kafka log (kafkajs) driven by messages from the cache's
 * thread (see worker-log.ts). Batches read go to the cache as they come, each in one transferred
 * ArrayBuffer; above `maxBufferedBytes` sent and not applied, fetching pauses (the consumer stays
 * in its group, its heartbeats go on here), and resumes once the cache applied half of them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '../../logger.js';
import { KafkaLog } from '../kafka/adapter.js';
import type { LogBatch } from '../port.js';
import { decodeAppends, encodeBatch, errorData, type FromWorker, type ToWorker, type WorkerStart } from './protocol.js';

const port = parentPort!;
const start = workerData as WorkerStart;

const send = (message: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(message, transfer);

/** Log lines go to the cache's logger, on its thread. */
const level =
  (name: 'debug' | 'info' | 'warn' | 'error') =>
  (message: string, context?: Record<string, unknown>): void => {
    let copy = context;
    try {
      structuredClone(context);
    } catch {
      copy = JSON.parse(JSON.stringify(context ?? {}, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))) as Record<
        string,
        unknown
      >;
    }
    send(copy === undefined ? { type: 'log', level: name, message } : { type: 'log', level: name, message, context: copy });
  };
const logger: Logger = { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };

// Fetches of 1 MiB per partition: what may land on top of the buffer bound (docs/replication-modes.md, Flow control).
const log = new KafkaLog(start.options, { ...start.context, logger });

/** The next offset of each partition: where the cache starts, then past every batch sent. */
const next: number[] = [];
let buffered = 0;
let paused = false;
/** While paused: what a batch waits for, settled once at most half the bound is buffered (or the consumer stops). */
let drained: Promise<void> | undefined;
let wake: (() => void) | undefined;
let closing = false;

function flow(): void {
  const pause = buffered > start.maxBufferedBytes ? true : buffered <= start.maxBufferedBytes / 2 ? false : paused;
  if (pause === paused) return;
  paused = pause;
  if (!pause) release();
  send({ type: 'flow', paused: pause });
}

/** Lets a batch waiting in `onBatch` return. */
function release(): void {
  const resume = wake;
  drained = wake = undefined;
  resume?.();
}

async function onBatch(batch: LogBatch): Promise<void> {
  const buffer = encodeBatch(batch);
  if (batch.nextOffset > (next[batch.partition] ?? 0)) next[batch.partition] = batch.nextOffset;
  buffered += buffer.byteLength;
  send({ type: 'batch', buffer }, [buffer]);
  flow();
  // Paused, the consumer's loop waits here before it fetches again (its heartbeats go on: see
  // the Kafka log's consumer lane), and fetches at once when the cache caught up. Pausing the
  // consumer itself would do neither: kafkajs, with every partition paused, sleeps a whole
  // `maxWaitTimeInMs` before it looks again.
  if (paused && !closing) await (drained ??= new Promise<void>((resolve) => (wake = resolve)));
}

async function reply(id: number, work: () => Promise<unknown>): Promise<void> {
  try {
    const value = await work();
    send({ type: 'reply', id, value: (value ?? null) as never });
  } catch (error) {
    send({ type: 'reply', id, error: errorData(error) });
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'open':
      return void reply(message.id, () => log.open());
    case 'offsets':
      return void reply(message.id, () => log.offsets());
    case 'snapshotFacts':
      return void reply(message.id, () => log.snapshotFacts(message.since));
    case 'consume':
      message.start.forEach((offset, partition) => (next[partition] = offset));
      return void reply(message.id, () =>
        log.consume({
          startOffset: (partition) => next[partition] ?? 0,
          onBatch,
          onError: (error) => send({ type: 'error', error: errorData(error) }),
        }),
      );
    case 'restart':
      // Batches sent before this message and not applied yet come again: the cache skips what it applied.
      message.start.forEach((offset, partition) => (next[partition] = offset));
      // The consumer being replaced stops once its batch returns.
      release();
      return void reply(message.id, () => log.restartConsumer());
    case 'append': {
      // In order: each send waits for the one before it (KafkaLog.append).
      const appends = decodeAppends(message.buffer, message.counts);
      message.ids.forEach((id, i) => void reply(id, () => log.append(appends[i]!)));
      return;
    }
    case 'applied':
      buffered -= message.bytes;
      flow();
      return;
    case 'close':
      closing = true;
      release();
      return void reply(message.id, () => log.close()).then(() => port.close());
  }
});

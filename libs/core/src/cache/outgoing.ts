import type { RecordSigner } from '../crypto.js';
import type { NearCacheError } from '../errors.js';
import type { ReplicationLog } from '../log/port.js';
import { claimRecord, clearRecord, deleteRecord, setRecord, tagRecord, type OutgoingRecord } from '../record.js';
import { Replicator, type QueuedWrite } from '../replicator.js';
import type { WriteShield } from './write-shield.js';

/** A local write queued for the log. */
export interface CacheWrite extends QueuedWrite {
  op: 'set' | 'delete' | 'clear' | 'tag' | 'claim';
  /** The key, the prefix of a clear, the tag of a tag invalidation, or the key a claim is about. */
  key: string;
  value: Uint8Array | null;
  expiresAt: number;
  /** A fenced set or delete (a loaded value, or the correction of a stale one): its fence. Absent on plain writes. */
  fence?: number;
  /** A set with a grace period: when it ends (ms since the epoch). Absent otherwise. */
  graceEnd?: number;
  /** A tagged set: its tags. */
  tags?: readonly string[];
  /** A claim (docs/consistency.md, section 18): whether it is the release of this instance's claim (its deadline is in `expiresAt`). */
  release?: boolean;
}

/**
 * Bytes a record takes beyond its key, value and the writer's origin and codec name: the rest of
 * its metadata line and headers (a signature included). The log adds its own framing (`recordOverhead`).
 */
const RECORD_METADATA_BYTES = 64;
/** A log's framing of each record when it does not tell (`ReplicationLog.recordOverhead`): what Kafka's takes, generously. */
const DEFAULT_RECORD_OVERHEAD = 96;

export interface PublisherOptions {
  log: ReplicationLog;
  shield: WriteShield;
  topic: string;
  origin: string;
  codecName: string;
  signer: RecordSigner | undefined;
  maxQueuedWrites: number;
  maxBatchRecords: number;
  maxBatchBytes: number;
  /** Partitions of the topic, and the partition of a key. */
  partitions(): number;
  partitionOf(key: string): number;
  /** The log refused `write` for good. */
  dropped(write: CacheWrite, error: NearCacheError): void;
  /** A fenced `write` will never come back from the log: replaced in the queue, or refused. */
  released(write: CacheWrite): void;
  /** Appending fails and is being retried, or works again. */
  failing(error: NearCacheError): void;
  recovered(): void;
}

/**
 * This instance's writes on their way to the log: the replication queue (bounded, coalesced per
 * key, in order), turned into records (partitioned, signed), appended; where the log put each
 * is told to the write shield.
 */
export class Publisher {
  readonly queue: Replicator<CacheWrite>;
  /** Per partition, the next offset after every record of this instance the log acknowledged: what its session tokens cover. */
  readonly acked: number[] = [];
  /** Whether the log acknowledged an append without telling its offsets (session tokens then use the log's end offsets). */
  offsetsUnknown = false;
  readonly #o: PublisherOptions;
  /** Bytes a record takes beyond its key and value: metadata (with the origin and codec) and the log's framing. */
  readonly #recordOverhead: number;

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.#recordOverhead = RECORD_METADATA_BYTES + (options.log.recordOverhead ?? DEFAULT_RECORD_OVERHEAD) + options.origin.length + options.codecName.length;
    this.queue = new Replicator<CacheWrite>(
      {
        send: (writes) => this.#send(writes),
        superseded: (write) => {
          options.shield.superseded(write);
          if (write.fence !== undefined) options.released(write);
        },
        dropped: (write, error) => {
          // The record will never come back: stop shielding the key from remote writes.
          options.shield.dropped(write);
          if (write.fence !== undefined) options.released(write);
          options.dropped(write, error);
        },
        failing: (error) => options.failing(error),
        recovered: () => options.recovered(),
      },
      {
        maxQueued: options.maxQueuedWrites,
        maxBatch: options.maxBatchRecords,
        maxBatchBytes: options.maxBatchBytes,
        // Encoded value and key, plus headers and record overhead; a clear is one record per partition.
        size: (write) =>
          (Buffer.byteLength(write.key) + (write.value?.length ?? 0) + this.#recordOverhead) *
          (write.op === 'clear' || write.op === 'tag' ? Math.max(1, options.partitions()) : 1),
      },
    );
  }

  /** Appends `writes`; tells the shield where the log put them, when it says. */
  async #send(writes: CacheWrite[]): Promise<void> {
    const owners: CacheWrite[] = [];
    const records = this.#toRecords(writes, owners);
    const offsets = await this.#o.log.append(records);
    if (!offsets) {
      this.offsetsUnknown = true;
      return;
    }
    const acked = this.acked;
    for (let i = 0; i < records.length; i++) {
      const offset = offsets[i];
      if (offset === undefined || Number.isNaN(offset)) {
        this.offsetsUnknown = true;
        continue;
      }
      const partition = records[i]!.partition;
      this.#o.shield.acknowledged(owners[i]!, partition, offset);
      if (!(acked[partition]! > offset)) acked[partition] = offset + 1;
    }
  }

  #toRecords(writes: CacheWrite[], owners: CacheWrite[]): OutgoingRecord[] {
    const { origin, codecName } = this.#o;
    const records: OutgoingRecord[] = [];
    for (const write of writes) {
      switch (write.op) {
        case 'set':
          records.push(
            setRecord(
              this.#o.partitionOf(write.key),
              write.key,
              write.value!,
              write.expiresAt,
              origin,
              write.writeId,
              codecName,
              write.fence,
              write.graceEnd,
              write.tags,
            ),
          );
          owners.push(write);
          break;
        case 'delete':
          records.push(deleteRecord(this.#o.partitionOf(write.key), write.key, origin, write.writeId, codecName, write.fence));
          owners.push(write);
          break;
        case 'clear':
          // A clear goes to every partition, ordered there with the writes it clears.
          for (let p = 0, n = this.#o.partitions(); p < n; p++) {
            records.push(clearRecord(p, write.key, origin, write.writeId, codecName));
            owners.push(write);
          }
          break;
        case 'tag':
          // Like a clear: ordered in every partition with the tagged writes it removes.
          for (let p = 0, n = this.#o.partitions(); p < n; p++) {
            records.push(tagRecord(p, write.key, origin, write.writeId, codecName));
            owners.push(write);
          }
          break;
        case 'claim':
          // On the claimed key's partition: ordered with its values.
          records.push(claimRecord(this.#o.partitionOf(write.key), write.key, write.expiresAt, write.release === true, origin, write.writeId, codecName));
          owners.push(write);
          break;
      }
    }
    const signer = this.#o.signer;
    if (signer) for (const record of records) signer.sign(this.#o.topic, record);
    return records;
  }
}

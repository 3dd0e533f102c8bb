import type { Clock } from '../clock.js';
import type { RecordSigner } from '../crypto.js';
import type { CacheMode } from '../options.js';
import { payload, readRecord, RecordRejection, type LogRecord, type ParseLimits, type RejectReason } from '../record.js';
import { Verdict, type LoadFences } from './fences.js';
import type { FleetRounds } from './fleet-flight.js';
import { applyChannel, traceApply, type TraceSource } from '../telemetry/channels.js';
import type { LocalStore } from './local-store.js';
import type { Reporter } from './reporter.js';
import type { RecordPosition } from './types.js';
import type { WriteShield } from './write-shield.js';

export interface ApplierOptions<V> extends ParseLimits {
  topic: string;
  /** This instance's origin: its own records come back with it. */
  origin: string;
  /** What the `nearcache:apply` tracing channel tells of this cache. */
  trace: TraceSource;
  signer: RecordSigner | undefined;
  mode: CacheMode;
  filter: ((key: string) => boolean) | undefined;
  bootstrapDecode: 'lazy' | 'eager';
  clock: Clock;
  store: LocalStore<V>;
  shield: WriteShield;
  fences: LoadFences;
  /** Fleet-wide loads (docs/consistency.md, section 18): told of claims, and of records that settle a key. */
  rounds: FleetRounds;
  reporter: Reporter;
  /** Partitions of the topic, and the partition of a key. */
  partitions(): number;
  partitionOf(key: string): number;
  /** Whether the bootstrap ended. */
  bootstrapped(): boolean;
  /** Skips a record: counted and reported. */
  reject(record: RecordPosition, reason: RejectReason, detail: string): void;
}

/**
 * Turns records of the log into changes of the local store: checks signatures, parses, leaves
 * alone what the write shield protects, drops expired values and what this instance does not
 * keep (invalidate mode, key filter), stores the rest (as bytes, decoded on first read, during
 * a lazy bootstrap). Clears, local or remote, go through `wipe`.
 */
export class RecordApplier<V> {
  readonly #o: ApplierOptions<V>;

  constructor(options: ApplierOptions<V>) {
    this.#o = options;
  }

  apply(record: LogRecord): void {
    // Traced only while someone subscribes: else one property read per record.
    if (applyChannel.hasSubscribers) traceApply(this.#o.trace, record, this.#apply, this);
    else this.#apply(record);
  }

  #apply(record: LogRecord): void {
    const o = this.#o;
    if (o.signer) {
      const problem = o.signer.verify(o.topic, record);
      if (problem !== undefined) {
        o.reject(record, 'bad-signature', problem);
        return;
      }
    }
    const parsed = readRecord(record, o);
    if (parsed instanceof RecordRejection) {
      o.reject(record, parsed.reason, parsed.detail);
      return;
    }
    const own = parsed.origin === o.origin;
    if (parsed.op === 'claim') {
      o.rounds.claimed(parsed, parsed.origin === o.origin);
      return;
    }
    if (parsed.op === 'clear') {
      if (o.rounds.active) o.rounds.cleared(parsed.prefix, record.partition);
      o.fences.cleared(parsed.prefix, record.partition, record.offset, parsed.origin, own);
      if (own) {
        o.shield.clearCameBack(parsed.writeId, record.partition);
      } else {
        this.wipe(parsed.prefix, record.partition, record.offset);
        o.reporter.change('clear', parsed.prefix, 'remote');
      }
      return;
    }
    if (parsed.op === 'tag') {
      o.fences.tagged(parsed.tag, record.partition, record.offset, parsed.origin, own);
      if (own) {
        o.shield.clearCameBack(parsed.writeId, record.partition);
      } else {
        this.wipeTag(parsed.tag, record.partition, record.offset);
      }
      return;
    }
    const key = parsed.key;
    // Waiters for a fleet-wide load of the key read what this record leaves (once it is applied).
    if (o.rounds.active) o.rounds.settled(key);
    // Fenced loads: a stale fenced record is skipped, one that cannot be judged drops the key.
    const verdict = o.fences.judge(parsed, record.partition, record.offset, own);
    if (verdict === Verdict.Skip) return;
    if (!o.shield.admits(key, own, parsed.writeId, record.partition, record.offset, parsed.op === 'set' ? parsed.tags : undefined)) {
      // A tagged set before a local invalidation of its tag: after both, the key is gone.
      if (o.shield.tagShadowed && o.store.delete(key)) o.reporter.change('delete', key, 'remote');
      return;
    }
    // An expired value is dropped, unless it is in its grace period (docs/consistency.md, section 14).
    if (verdict === Verdict.Drop || parsed.op === 'delete' || (parsed.expiresAt !== 0 && Math.max(parsed.expiresAt, parsed.graceEnd) <= o.clock.now())) {
      if (o.store.delete(key)) o.reporter.change('delete', key, 'remote');
      return;
    }
    if (o.mode === 'invalidate' || (o.filter !== undefined && !o.filter(key))) {
      if (o.store.delete(key)) o.reporter.change('delete', key, 'remote');
      return;
    }
    const size = parsed.bytes.length - parsed.start + key.length;
    if (o.bootstrapDecode === 'lazy' && parsed.graceEnd === 0 && !o.bootstrapped() && !o.store.holds(key)) {
      // Nothing to keep intact if this value turns out undecodable: decode it when it is read.
      // The copy lets the fetched batch go.
      o.store.storeEncoded(key, parsed.bytes, parsed.start, record, parsed.expiresAt, size, parsed.tags);
    } else {
      const value = o.store.decode(payload(parsed), record);
      if (value === undefined) return;
      o.store.store(key, value as {}, parsed.expiresAt, size, parsed.graceEnd, parsed.tags);
    }
    o.reporter.change('set', key, 'remote');
  }

  /**
   * Removes the entries carrying `tag` (on `partition` only, when given): those read before the
   * invalidation, or written here. For a remote invalidation read at `offset`, keys with a local
   * write in flight are kept, as for a clear. Reads the tagged keys only.
   */
  wipeTag(tag: string, partition: number | undefined, offset: number | undefined): void {
    const o = this.#o;
    const onePartition = partition !== undefined && o.partitions() > 1;
    const source = offset === undefined ? 'local' : 'remote';
    o.store.removeTagged(
      tag,
      onePartition || offset !== undefined
        ? (key) => (onePartition && o.partitionOf(key) !== partition) || (offset !== undefined && o.shield.keepsFromClear(key, offset))
        : undefined,
      (key) => o.reporter.change('delete', key, source),
    );
  }

  /**
   * Removes entries under `prefix` (on `partition` only, when given). For a remote clear read at
   * `offset`, keys with a local write in flight are kept, unless that write is known to sit
   * before the clear in the log (its record was removed by the cleaner, so it never came back).
   */
  wipe(prefix: string, partition: number | undefined, offset: number | undefined): void {
    const o = this.#o;
    const partitions = o.partitions();
    const onePartition = partition !== undefined && partitions > 1;
    if (prefix === '' && !onePartition && (offset === undefined || o.shield.pendingKeys === 0)) {
      o.store.clear();
      return;
    }
    const catchingUp = offset !== undefined && !o.bootstrapped();
    if (!onePartition && offset === undefined) {
      o.store.removePrefix(prefix, undefined);
      return;
    }
    o.store.removePrefix(
      prefix,
      (key) => (onePartition && o.partitionOf(key) !== partition) || (offset !== undefined && o.shield.keepsFromClear(key, offset)),
      catchingUp,
    );
  }
}

import type { EventEmitter } from 'node:events';
import type { ResolvedOptions } from '../options.js';
import { Snapshots, startSnapshotRead, type SnapshotHost, type SnapshotRead, type SnapshotReport } from './snapshots.js';

export type { Snapshots, SnapshotRead } from './snapshots.js';

/** Starts reading the snapshot file of a cache with option `snapshot` (see `startSnapshotRead`); undefined without the option. */
export function snapshotReadOf(options: ResolvedOptions<unknown>): SnapshotRead | undefined {
  return options.snapshot === undefined ? undefined : startSnapshotRead(options.snapshot.path, options.topic);
}

/** What the cache hands over beyond its options. */
export type SnapshotParts<V> = Omit<
  SnapshotHost<V>,
  'topic' | 'logger' | 'clock' | 'codec' | 'mode' | 'filter' | 'signed' | 'maxKeyBytes' | 'maxValueBytes' | 'bootstrapDecode' | 'report'
> & {
  emitter: EventEmitter;
};

/** The snapshots of a cache with option `snapshot` (`read`: its file's read, from `snapshotReadOf`), reporting on its `snapshot` event and logger; undefined without the option. */
export function snapshotsOf<V>(options: ResolvedOptions<V>, parts: SnapshotParts<V>, read: SnapshotRead | undefined): Snapshots<V> | undefined {
  if (options.snapshot === undefined || read === undefined) return undefined;
  const { emitter, ...rest } = parts;
  const logger = options.logger;
  return new Snapshots<V>(
    options.snapshot,
    {
      ...rest,
      topic: options.topic,
      logger,
      clock: options.clock,
      codec: options.codec,
      mode: options.mode,
      filter: options.filter,
      signed: options.signer !== undefined,
      maxKeyBytes: options.maxKeyBytes,
      maxValueBytes: options.maxValueBytes,
      bootstrapDecode: options.bootstrapDecode,
      report: (report) => {
        log(logger, report);
        if (emitter.listenerCount('snapshot') > 0) emitter.emit('snapshot', report);
      },
    },
    read,
  );
}

function log(logger: ResolvedOptions<unknown>['logger'], report: SnapshotReport): void {
  const where = `snapshot ${report.file}`;
  if (report.op === 'load') {
    if (report.outcome === 'refused')
      logger.warn(`${where} refused (${report.reason}): ${report.message}; reading the whole topic`, { code: 'NC_SNAPSHOT_REFUSED', reason: report.reason });
    else if (report.outcome === 'loaded')
      logger.info(`${where} loaded: ${report.entries} entries in ${report.ms} ms; reading the log from positions ${report.positions?.join(', ')}`);
    else logger.info(`${where} not found; reading the whole topic`);
  } else if (report.outcome === 'failed') {
    logger.warn(report.message ?? `${where} not written`, { code: 'NC_SNAPSHOT_WRITE_FAILED' });
  } else if (report.outcome === 'skipped') {
    logger.debug(`${where} not written now: ${report.reason}`);
  } else {
    logger.debug(`${where} written: ${report.entries} entries, ${report.bytes} bytes in ${report.ms} ms`);
  }
}

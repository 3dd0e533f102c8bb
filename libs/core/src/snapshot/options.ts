import { fail, integer, noUnknownKeys, plainObject, string } from '../validate.js';

/** Option `snapshot` of `createNearCache`: a local snapshot for a warm start (docs/snapshots.md). */
export interface SnapshotOptions {
  /** The snapshot file, or an existing directory (the file is then `<topic>.ncsnap` in it). Required. */
  path: string;
  /** How often a snapshot is written while the cache runs, in ms; 0: only at `close()`. Default 300000 (5 minutes). */
  interval?: number;
  /** Whether `close()` writes a snapshot. Default true. */
  onClose?: boolean;
  /**
   * A marker of configuration the cache cannot compare itself (what a key `filter` depends on,
   * for example): a snapshot written with another marker is refused. Default ''.
   */
  version?: string;
}

export interface ResolvedSnapshotOptions {
  path: string;
  interval: number;
  onClose: boolean;
  version: string;
}

const NAMES = ['path', 'interval', 'onClose', 'version'] as const satisfies ReadonlyArray<keyof SnapshotOptions>;

/** Checks option `snapshot`; throws `InvalidOptionError`. */
export function resolveSnapshotOptions(value: unknown): ResolvedSnapshotOptions | undefined {
  if (value === undefined) return undefined;
  const options = plainObject('snapshot', value) as unknown as SnapshotOptions;
  noUnknownKeys('snapshot.', options, NAMES);
  const path = string('snapshot.path', options.path, undefined);
  if (path.includes('\u0000')) fail('snapshot.path', 'a file or directory path', path);
  const interval = integer('snapshot.interval', options.interval, 300_000, 0, 2_147_483_647);
  if (interval > 0 && interval < 1000) fail('snapshot.interval', '0 (only at close) or an integer from 1000 (ms)', interval);
  if (options.onClose !== undefined && typeof options.onClose !== 'boolean') fail('snapshot.onClose', 'true or false', options.onClose);
  if (options.version !== undefined && typeof options.version !== 'string') fail('snapshot.version', 'a string', options.version);
  return { path, interval, onClose: options.onClose ?? true, version: options.version ?? '' };
}

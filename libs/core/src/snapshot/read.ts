import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';

/**
 * Bytes asked of the file system per read. The checksum of one slice is computed while the next
 * one is read (on libuv's thread pool); on the cache's thread, a slice is also what is checked
 * between two turns of its event loop (about 8 ms).
 */
const READ_SLICE = 16 * 1024 * 1024;

/** The reading thread's module, next to this one (`.js` in the built package). */
const WORKER = new URL('./read-worker.js', import.meta.url);

/** A snapshot file's bytes, and the CRC-32 of the first `checked` of them, computed as they were read. */
export interface SnapshotBytes {
  bytes: Buffer;
  crc: number;
  checked: number;
}

/** What the reading thread is given: the file, and how many bytes at its end the checksum leaves out. */
export interface ReadRequest {
  file: string;
  unchecked: number;
}

/** What the reading thread answers: the bytes in shared memory, no file, or why it failed. */
export type ReadOutcome = { memory: SharedArrayBuffer; length: number; crc: number; checked: number } | { missing: true } | { failed: string };

/**
 * The snapshot file's bytes with the CRC-32 of all but its last `unchecked` bytes, or undefined
 * when there is none. Read on a worker thread into shared memory, so that a start reads and
 * checks its snapshot on another core while this thread connects to the log; where no worker
 * can be started (or it failed), read here (other errors are thrown). `signal`: stops the read
 * (the cache closed before it needed the file); the answer is then undefined.
 */
export async function readSnapshotFile(
  file: string,
  unchecked: number,
  options: { worker?: boolean; signal?: AbortSignal } = {},
): Promise<SnapshotBytes | undefined> {
  const signal = options.signal;
  if (signal?.aborted) return undefined;
  if (options.worker !== false) {
    const outcome = await readOnWorker({ file, unchecked }, signal).catch(() => undefined);
    if (signal?.aborted) return undefined;
    if (outcome !== undefined && 'missing' in outcome) return undefined;
    if (outcome !== undefined && 'memory' in outcome)
      return { bytes: Buffer.from(outcome.memory, 0, outcome.length), crc: outcome.crc, checked: outcome.checked };
  }
  return readChecked(file, unchecked, (size) => Buffer.allocUnsafe(size), signal);
}

/**
 * Reads `file` into a buffer of `allocate(size)`, computing the CRC-32 of all but its last
 * `unchecked` bytes as it goes: each slice is checked while the next one is read. Undefined when
 * there is no file; other errors are thrown. A file that shrank while it was read comes back cut
 * short (the format's checks refuse it as truncated).
 */
export async function readChecked(
  file: string,
  unchecked: number,
  allocate: (size: number) => Buffer,
  signal?: AbortSignal,
): Promise<SnapshotBytes | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const bytes = allocate(size);
    const checked = Math.max(0, size - unchecked);
    let crc = 0;
    let at = 0;
    let reading = size > 0 ? handle.read(bytes, 0, Math.min(size, READ_SLICE), 0) : undefined;
    while (reading !== undefined) {
      const { bytesRead } = await reading;
      if (signal?.aborted) return undefined;
      const from = at;
      at += bytesRead;
      reading = bytesRead > 0 && at < size ? handle.read(bytes, at, Math.min(size - at, READ_SLICE), at) : undefined;
      if (from < checked) crc = crc32(bytes.subarray(from, Math.min(at, checked)), crc);
    }
    return { bytes: at === size ? bytes : bytes.subarray(0, at), crc, checked: Math.min(at, checked) };
  } finally {
    await handle.close();
  }
}

/**
 * The last `tail` bytes of `file`, and a reader of its other bytes for `peek`, which returns
 * what `peek` returns; undefined when the file cannot be read so (the full read reports why).
 */
export async function peekFile<T>(
  file: string,
  tail: number,
  peek: (size: number, tail: Buffer, read: (start: number, length: number) => Promise<Buffer>) => Promise<T | undefined>,
): Promise<T | undefined> {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    if (size < tail) return undefined;
    const read = async (start: number, length: number): Promise<Buffer> => {
      const bytes = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(bytes, 0, length, start);
      return bytes.subarray(0, bytesRead);
    };
    return await peek(size, await read(size - tail, tail), read);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

function readOnWorker(request: ReadRequest, signal: AbortSignal | undefined): Promise<ReadOutcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: request, name: 'nearcache snapshot read' });
    // Never what keeps the process alive; stopped when the read is no longer wanted.
    worker.unref();
    const stop = (): void => void worker.terminate();
    signal?.addEventListener('abort', stop, { once: true });
    worker.once('exit', () => signal?.removeEventListener('abort', stop));
    worker.once('message', (outcome: ReadOutcome) => resolve(outcome));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the snapshot reading thread exited with ${code}`)));
  });
}

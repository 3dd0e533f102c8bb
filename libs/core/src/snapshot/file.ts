import { constants, statSync } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The snapshot file of `topic` for option `snapshot.path`: the path itself, or `<topic>.ncsnap`
 * in it when it is a directory. One stat, made at once: the cache names its file when it is
 * created, so that the file's read starts before the cache builds its store.
 */
export function snapshotFile(configured: string, topic: string): string {
  try {
    if (statSync(configured, { throwIfNoEntry: false })?.isDirectory()) return path.join(configured, `${topic}.ncsnap`);
  } catch {
    // Not there yet: a file to be written.
  }
  return configured;
}

/** Where a snapshot is written before it is renamed into place: beside it, named after this process. */
export function temporaryFile(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

/**
 * Writes `chunks` to `file` atomically: into a temporary file beside it, flushed to disk
 * (fsync), renamed over `file`, then the directory flushed. A crash at any point leaves either
 * the previous file or the new one, never a part of one. Temporary files left by processes
 * killed while writing are removed first.
 */
export async function writeAtomically(file: string, chunks: AsyncIterable<Buffer>): Promise<number> {
  await removeLeftovers(file);
  const temporary = temporaryFile(file);
  let bytes = 0;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    for await (const chunk of chunks) {
      await handle.write(chunk);
      bytes += chunk.length;
    }
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const directory = await open(path.dirname(file), constants.O_RDONLY).catch(() => undefined);
  if (directory) {
    await directory.sync().catch(() => undefined);
    await directory.close();
  }
  return bytes;
}

/** Removes `<file>.tmp-<pid>` files of processes that no longer run. */
async function removeLeftovers(file: string): Promise<void> {
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(path.dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    await unlink(path.join(path.dirname(file), name)).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { yieldToEventLoop } from '../retry.js';

/** Bytes checked between two turns of the event loop when the checksum runs on this thread. */
const SLICE = 8 * 1024 * 1024;

/** The worker: the CRC-32 of the shared bytes it is given, posted back once. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
parentPort.postMessage(crc32(new Uint8Array(workerData.memory, workerData.offset, workerData.length)));
`;

/**
 * The CRC-32 of `bytes`. Over shared memory (the snapshot file is read into a
 * SharedArrayBuffer) it is computed on a worker thread, so that a start checks its snapshot
 * while it connects to the log and indexes the entries; otherwise, or when no worker can be
 * started, on this thread in slices that yield to the event loop.
 */
export async function checksum(bytes: Uint8Array): Promise<number> {
  if (bytes.buffer instanceof SharedArrayBuffer) {
    const computed = await onWorker(bytes).catch(() => undefined);
    if (computed !== undefined) return computed;
  }
  let crc = 0;
  for (let at = 0; at < bytes.length; at += SLICE) {
    if (at > 0) await yieldToEventLoop();
    crc = crc32(bytes.subarray(at, Math.min(bytes.length, at + SLICE)), crc);
  }
  return crc;
}

function onWorker(bytes: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { memory: bytes.buffer, offset: bytes.byteOffset, length: bytes.length } });
    // Never what keeps the process alive.
    worker.unref();
    worker.once('message', (crc: number) => resolve(crc));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the checksum worker exited with ${code}`)));
  });
}

/**
 * The snapshot reading thread (see read.ts): reads the file it is given into shared memory,
 * checksumming it on the way, and posts the outcome once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readChecked, type ReadOutcome, type ReadRequest } from './read.js';

const { file, unchecked } = workerData as ReadRequest;
let memory: SharedArrayBuffer | undefined;
const answer = (outcome: ReadOutcome): void => parentPort!.postMessage(outcome);
readChecked(file, unchecked, (size) => Buffer.from((memory = new SharedArrayBuffer(size)))).then(
  (read) => answer(read === undefined ? { missing: true } : { memory: memory!, length: read.bytes.length, crc: read.crc, checked: read.checked }),
  (error: unknown) => answer({ failed: (error as Error)?.message ?? String(error) }),
);

import type { EventEmitter } from 'node:events';

// The one waitFor and the one sleep of the scripts, the benchmarks and the tests. A test waits on
// a condition (waitFor); sleep is for durations a test sets up on purpose (an outage's length).
export { sleep, waitFor, type WaitOptions } from '../../scripts/lib/shared.mjs';

/** Resolves with the arguments of the next `event` on `emitter`; rejects after `timeout`. */
export function nextEvent<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, timeout = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeout} ms waiting for event "${event}"`));
    }, timeout);
    function listener(...args: unknown[]): void {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as T);
    }
    emitter.on(event, listener);
  });
}

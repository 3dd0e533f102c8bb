import type { EventEmitter } from 'node:events';

export interface WaitOptions {
  /** Give up after this many ms. Default 10000. */
  timeout?: number;
  /** Check every this many ms. Default 10. */
  interval?: number;
  /** Said when the wait times out. */
  message?: string | (() => string);
}

/** Resolves once `predicate` holds (it may be async); rejects with `message` after `timeout`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeout = 10_000, interval = 10 } = options;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) {
      const message = typeof options.message === 'function' ? options.message() : options.message;
      throw new Error(`timed out after ${timeout} ms waiting for ${message ?? 'a condition'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

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

import { tracingChannel } from 'node:diagnostics_channel';
import { NEARCACHE_CHANNELS, type LoadTrace } from '@nearcache/core';

/**
 * The loads of `cache` as they end on nearcache:load, each as its key (or `label(key)`) and,
 * for a failed load, ` error: <message>`; `errors` holds the failed loads' errors, in order;
 * `stop()` unsubscribes.
 */
export function loadEnds(cache: object, label: (key: string) => string = (key) => key): { ends: string[]; errors: unknown[]; stop(): void } {
  const channel = tracingChannel<unknown, LoadTrace>(NEARCACHE_CHANNELS.load);
  const ends: string[] = [];
  const errors: unknown[] = [];
  const none = (): void => undefined;
  const handlers = {
    start: none,
    end: none,
    asyncStart: none,
    error: none,
    asyncEnd: (context: LoadTrace): void => {
      if (context.cache !== cache) return;
      if (context.error !== undefined) errors.push(context.error);
      ends.push(`${label(context.key)}${context.error === undefined ? '' : ` error: ${(context.error as Error).message}`}`);
    },
  };
  channel.subscribe(handlers);
  return { ends, errors, stop: () => channel.unsubscribe(handlers) };
}

import { tracingChannel } from 'node:diagnostics_channel';
import { NEARCACHE_CHANNELS, type LoadTrace } from '@nearcache/core';

/**
 * The loads of `cache` as they end on nearcache:load, each as its key (or `label(key)`) and,
 * for a failed load, ` error: <message>`; `stop()` unsubscribes.
 */
export function loadEnds(cache: object, label: (key: string) => string = (key) => key): { ends: string[]; stop(): void } {
  const channel = tracingChannel<unknown, LoadTrace>(NEARCACHE_CHANNELS.load);
  const ends: string[] = [];
  const none = (): void => undefined;
  const handlers = {
    start: none,
    end: none,
    asyncStart: none,
    error: none,
    asyncEnd: (context: LoadTrace): void => {
      if (context.cache !== cache) return;
      ends.push(`${label(context.key)}${context.error === undefined ? '' : ` error: ${(context.error as Error).message}`}`);
    },
  };
  channel.subscribe(handlers);
  return { ends, stop: () => channel.unsubscribe(handlers) };
}

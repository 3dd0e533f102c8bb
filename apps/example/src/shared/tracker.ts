import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PRODUCT_PAGE } from './keys.js';

/**
 * Where a product page came from:
 * - `response-cache`: the stored HTTP response (the Nest interceptor's or the Express
 *   middleware's), the handler did not run;
 * - `value-cache`: the handler ran, the product came from the cache (`@Cached`, `wrap`);
 * - `data-source`: the product was loaded from the slow data source.
 */
export type ServedFrom = 'response-cache' | 'value-cache' | 'data-source';

/** The response header that says where a product page came from. */
export const SERVED_FROM_HEADER = 'X-Served-From';

const KINDS: readonly ServedFrom[] = ['response-cache', 'value-cache', 'data-source'];
const MAX_SAMPLES = 50_000;

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ServedStats {
  /** Product pages answered with a 2xx status. */
  requests: number;
  /** Pages served without a call to the data source. */
  hits: number;
  /** Pages that needed the data source. */
  misses: number;
  /** hits / requests (0 without requests). */
  hitRatio: number;
  /** Product pages answered with another status. */
  failed: number;
  /** Time from the request's arrival to the end of the response, on the server, by origin. */
  latency: Record<ServedFrom, LatencySummary> & { hit: LatencySummary; miss: LatencySummary };
}

interface RequestState {
  dataSourceCalls: number;
}

/**
 * Measures the product pages an instance serves: where each came from and how long it took
 * on the server. Its middleware tags every product page with `X-Served-From` and with
 * `Server-Timing: app;dur=<ms>` (the time from the request's arrival to the response headers).
 */
export class RequestTracker {
  readonly #requests = new AsyncLocalStorage<RequestState>();
  #samples = emptySamples();
  #failed = 0;

  /** Call from the data source: attributes the call to the request being served, if any. */
  dataSourceCalled(): void {
    const state = this.#requests.getStore();
    if (state) state.dataSourceCalls++;
  }

  /** Express-style middleware (Express, or Nest on its Express adapter) measuring `GET /products/:id`. */
  middleware(): (req: IncomingMessage & { path?: string }, res: ServerResponse, next: () => void) => void {
    return (req, res, next) => {
      const path = req.path ?? new URL(req.url ?? '/', 'http://localhost').pathname;
      if (req.method !== 'GET' || !PRODUCT_PAGE.test(path)) return next();
      const started = performance.now();
      const state: RequestState = { dataSourceCalls: 0 };
      let servedFrom: ServedFrom | undefined;
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        const status = typeof args[0] === 'number' ? args[0] : res.statusCode;
        if ((status >= 200 && status < 300) || status === 304) {
          servedFrom = state.dataSourceCalls > 0 ? 'data-source' : String(res.getHeader('x-cache')).toUpperCase() === 'HIT' ? 'response-cache' : 'value-cache';
          res.setHeader(SERVED_FROM_HEADER, servedFrom);
        }
        res.setHeader('Server-Timing', `app;dur=${(performance.now() - started).toFixed(3)}`); // time on the server so far

        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
      res.once('finish', () => {
        if (servedFrom === undefined) {
          this.#failed++;
          return;
        }
        const samples = this.#samples[servedFrom];
        if (samples.length >= MAX_SAMPLES) samples.splice(0, MAX_SAMPLES / 2);
        samples.push(performance.now() - started);
      });
      this.#requests.run(state, next);
    };
  }

  /** What was served since the start (or the last `reset()`). */
  stats(): ServedStats {
    const hitSamples = [...this.#samples['response-cache'], ...this.#samples['value-cache']];
    const missSamples = this.#samples['data-source'];
    const requests = hitSamples.length + missSamples.length;
    return {
      requests,
      hits: hitSamples.length,
      misses: missSamples.length,
      hitRatio: requests === 0 ? 0 : hitSamples.length / requests,
      failed: this.#failed,
      latency: {
        'response-cache': summarise(this.#samples['response-cache']),
        'value-cache': summarise(this.#samples['value-cache']),
        'data-source': summarise(missSamples),
        hit: summarise(hitSamples),
        miss: summarise(missSamples),
      },
    };
  }

  /** Forgets what was served so far. */
  reset(): void {
    this.#samples = emptySamples();
    this.#failed = 0;
  }
}

function emptySamples(): Record<ServedFrom, number[]> {
  return Object.fromEntries(KINDS.map((kind) => [kind, [] as number[]])) as Record<ServedFrom, number[]>;
}

function summarise(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    count: sorted.length,
    meanMs: round(sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length),
    p50Ms: round(at(0.5)),
    p95Ms: round(at(0.95)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted[sorted.length - 1]!),
  };
}

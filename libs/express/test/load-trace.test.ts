import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { HandlerFailedError, type NearCache } from '@nearcache/core';
import { loadEnds } from '../../../test/helpers/load-trace.js';
import { cacheResponses } from '../src/index.js';
import { Caches, localKey, uniqueTopic } from './helpers.js';

// A miss runs the handler under the page's lease: a load on nearcache:load, which ends with an
// error when the handler failed (a server error answered), as a loader that throws does.

const caches = new Caches();
const subscriptions: Array<() => void> = [];
afterEach(async () => {
  for (const unsubscribe of subscriptions.splice(0)) unsubscribe();
  await caches.closeAll();
});

/** The loads of `cache` as they end, and the failed ones' errors (see loadEnds), unsubscribed after the test. */
function listen(cache: NearCache<any>): { ends: string[]; errors: unknown[] } {
  const { ends, errors, stop } = loadEnds(cache);
  subscriptions.push(stop);
  return { ends, errors };
}

/** A failed handler's error: typed, with its code and the status it answered. */
const handlerFailed = (status: number) => expect.objectContaining({ name: 'HandlerFailedError', code: 'NC_HANDLER_FAILED', status, retriable: true });

describe('HTTP loads on nearcache:load', () => {
  it('a stored response ends its load without an error; a handler that failed ends it with one', async () => {
    const cache = await caches.open(uniqueTopic());
    const { ends, errors } = listen(cache);
    const app = express();
    app.get('/ok', cacheResponses(cache), (_req, res) => void res.json({ ok: true }));
    app.get('/thrown', cacheResponses(cache), () => {
      throw new Error('database down');
    });
    app.get('/answered', cacheResponses(cache), (_req, res) => void res.status(503).send('later'));
    app.get('/missing', cacheResponses(cache), (_req, res) => void res.status(404).send('no such page'));
    await request(app).get('/ok').expect(200);
    await request(app).get('/thrown').expect(500);
    await request(app).get('/answered').expect(503);
    await request(app).get('/missing').expect(404);
    expect(ends).toEqual([
      localKey('/ok'),
      `${localKey('/thrown')} error: the handler answered 500`,
      `${localKey('/answered')} error: the handler answered 503`,
      localKey('/missing'),
    ]);
    expect(errors).toEqual([handlerFailed(500), handlerFailed(503)]);
    expect(errors.every((error) => error instanceof HandlerFailedError)).toBe(true);
  });

  it('under grace, a failed handler answered by the response in grace still ends its load with the error', async () => {
    const cache = await caches.open(uniqueTopic());
    let fail = false;
    const app = express();
    app.get('/page', cacheResponses(cache, { ttl: 1, grace: 60_000 }), (_req, res) => void (fail ? res.status(500).send('down') : res.send('page')));
    await request(app).get('/page').expect(200);
    await new Promise((resolve) => setTimeout(resolve, 5)); // past the one-millisecond TTL
    const { ends, errors } = listen(cache);
    fail = true;
    const stale = await request(app).get('/page').expect(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(ends).toEqual([`${localKey('/page')} error: the handler answered 500`]);
    expect(errors).toEqual([handlerFailed(500)]);
  });
});

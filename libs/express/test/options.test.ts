import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidOptionError, type NearCache } from '@nearcache/core';
import express from 'express';
import request from 'supertest';
import { cacheResponses, nearCache, type CacheResponsesOptions } from '../src/index.js';
import { Caches, localKey, recordingLogger, uniqueTopic, waitFor } from './helpers.js';

describe('options are checked up front', () => {
  const caches = new Caches();

  const bad: Array<[string, unknown, RegExp]> = [
    ['an unknown option', { tll: 5 }, /unknown option "tll"; the options are: ttl, prefix, methods/],
    ['a negative ttl', { ttl: -1 }, /option "ttl" must be an integer from 0 to/],
    ['a fractional ttl', { ttl: 1.5 }, /option "ttl" must be an integer/],
    ['an empty prefix', { prefix: '' }, /option "prefix" must be a non-empty string/],
    ['POST in methods', { methods: ['GET', 'POST'] }, /option "methods" must be a non-empty array of "GET" and "HEAD", got "POST" at index 1$/],
    ['no methods', { methods: [] }, /option "methods" must be .*, got an empty array$/],
    ['methods that are no array', { methods: 'GET' }, /option "methods" must be .*, got "GET"$/],
    ['a key that is not a function', { key: 'url' }, /option "key" must be a function/],
    ['a negative maxBodyBytes', { maxBodyBytes: -1 }, /option "maxBodyBytes" must be an integer from 0/],
    ['a 5xx status', { statuses: [200, 503] }, /option "statuses" must be .*200 to 299 except 206.*5xx above all, are never cached\), got 503 at index 1$/],
    ['a 404 status', { statuses: [200, 404] }, /option "statuses" must be a non-empty array of statuses from 200 to 299 except 206 .*, got 404 at index 1$/],
    ['a 206 status', { statuses: [206] }, /option "statuses" must be .*, got 206 at index 0$/],
    ['a status as a string', { statuses: ['200'] }, /option "statuses" must be .*, got "200" at index 0$/],
    ['no statuses', { statuses: [] }, /option "statuses" must be .*, got an empty array$/],
    [
      'set-cookie among the headers',
      { headers: ['etag', 'Set-Cookie'] },
      /option "headers" must be an array of header names, none of set-cookie.*, got "Set-Cookie" at index 1$/,
    ],
    ['an invalid header name', { headers: ['bad header'] }, /option "headers" must be .*, got "bad header" at index 0$/],
    ['a status header that is not a name', { statusHeader: 'x cache' }, /option "statusHeader" must be a header name or false/],
    ['a logger without methods', { logger: {} }, /option "logger" must be an object with debug, info, warn and error methods/],
    ['options that are not an object', 'fast', /options must be an object/],
  ];

  it.each(bad)('%s throws InvalidOptionError', async (_name, options, message) => {
    const cache = await caches.open(uniqueTopic('opt'));
    try {
      expect(() => cacheResponses(cache, options as CacheResponsesOptions)).toThrow(InvalidOptionError);
      expect(() => cacheResponses(cache, options as CacheResponsesOptions)).toThrow(message);
    } finally {
      await caches.closeAll();
    }
  });

  it('the cache argument must be a NearCache', () => {
    expect(() => cacheResponses(undefined as unknown as NearCache)).toThrow(InvalidArgumentError);
    expect(() => cacheResponses({ get() {} } as unknown as NearCache)).toThrow(/cacheResponses: the first argument must be a NearCache/);
    expect(() => nearCache(null as unknown as NearCache)).toThrow(/nearCache: the first argument must be a NearCache/);
  });

  it('nearCache checks its options', async () => {
    const cache = await caches.open(uniqueTopic('opt'));
    try {
      expect(() => nearCache(cache, { namespace: 3 as unknown as string })).toThrow(InvalidOptionError);
      expect(() => nearCache(cache, { prefx: 'x' } as never)).toThrow(/unknown option "prefx"; the options are: namespace, prefix/);
    } finally {
      await caches.closeAll();
    }
  });

  it('accepts every documented option', async () => {
    const cache = await caches.open(uniqueTopic('opt'));
    try {
      const handler = cacheResponses(cache, {
        ttl: 0,
        prefix: 'api:',
        methods: ['GET'],
        key: (req) => `GET ${req.path}`,
        maxBodyBytes: 0,
        statuses: [200, 204, 299],
        headers: ['X-Build'],
        statusHeader: false,
        logger: console,
      });
      expect(typeof handler).toBe('function');
    } finally {
      await caches.closeAll();
    }
  });

  it("an explicit maxBodyBytes whose entry cannot fit in the cache's maxValueBytes throws, naming the largest that fits", async () => {
    // 8192 bytes per value: 4096 reserved for the envelope and headers, 4096 of base64, 3072 body bytes.
    const cache = await caches.open(uniqueTopic('opt'), { maxValueBytes: 8192 });
    try {
      expect(() => cacheResponses(cache, { maxBodyBytes: 3073 })).toThrow(InvalidOptionError);
      expect(() => cacheResponses(cache, { maxBodyBytes: 3073 })).toThrow(
        /cacheResponses: option "maxBodyBytes" \(3073\) is more than the cache can store.*maxValueBytes \(8192\); use at most 3072/,
      );
      expect(typeof cacheResponses(cache, { maxBodyBytes: 3072 })).toBe('function');
    } finally {
      await caches.closeAll();
    }
  });

  it("the default maxBodyBytes is lowered to what the cache's maxValueBytes can hold", async () => {
    const cache = await caches.open(uniqueTopic('opt'), { maxValueBytes: 8192 });
    try {
      const server = express();
      server.get('/fits', cacheResponses(cache), (_req, res) => void res.send('x'.repeat(3072)));
      server.get('/big', cacheResponses(cache), (_req, res) => void res.send('x'.repeat(3073)));
      await request(server).get('/fits').expect(200);
      await request(server).get('/big').expect(200);
      expect(cache.has(localKey('/fits'))).toBe(true);
      expect(cache.has(localKey('/big'))).toBe(false);
    } finally {
      await caches.closeAll();
    }
  });

  it("logs to the cache's own logger by default", async () => {
    const logger = recordingLogger();
    const cache = await caches.open(uniqueTopic('opt'), { logger });
    try {
      const server = express();
      server.get('/x', cacheResponses(cache), (_req, res) => void res.send('x'));
      await cache.close();
      await request(server).get('/x').expect(200, 'x');
      await waitFor(() => logger.warnings.some((w) => w.includes('response cache: storing the response failed')), {
        message: 'the warning on the cache logger',
      });
    } finally {
      await caches.closeAll();
    }
  });
});

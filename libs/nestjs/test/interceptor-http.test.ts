import {
  ConflictException,
  Controller,
  Get,
  Header,
  Headers,
  HttpCode,
  Injectable,
  Res,
  StreamableFile,
  UseInterceptors,
  type CallHandler,
  type NestInterceptor,
} from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import { computeEtag, decodeHttpEntry, encodeHttpEntry, InProcessBroker, InvalidOptionError, isHttpVaryIndex, NearCache } from '@nearcache/core';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serialiseResult, withCharset } from '../src/http-body.js';
import { NearCacheInterceptor, NearCacheModule } from '../src/index.js';
import { createOn, closePlatformApps, PLATFORMS } from './interceptor-platforms.js';
import { closeApps, inProcess } from './helpers.js';

/**
 * The interceptor reads and writes core's HTTP entries (the format of Express's
 * cacheResponses): keys, bytes, headers, ETag, conditional requests and the never-cache rules.
 */
const calls = new Map<string, number>();
const run = (name: string): number => {
  calls.set(name, (calls.get(name) ?? 0) + 1);
  return calls.get(name)!;
};

@Controller('h')
@UseInterceptors(NearCacheInterceptor)
class HttpController {
  @Get('json')
  json(): { hello: string; run: number } {
    return { hello: 'world', run: run('json') };
  }

  @Get('text')
  text(): string {
    run('text');
    return 'hi there';
  }

  @Get('plain')
  @Header('Content-Type', 'text/plain')
  plain(): string {
    run('plain');
    return 'plain text';
  }

  @Get('bytes')
  bytes(): Buffer {
    run('bytes');
    return Buffer.from([0, 1, 2, 255]);
  }

  @Get('cookie')
  @Header('Set-Cookie', 'session=1')
  cookie(): { run: number } {
    return { run: run('cookie') };
  }

  @Get('private')
  @Header('Cache-Control', 'private, max-age=60')
  private(): { run: number } {
    return { run: run('private') };
  }

  @Get('public')
  @Header('Cache-Control', 'public, max-age=60')
  public(): { run: number } {
    return { run: run('public') };
  }

  @Get('vary')
  @Header('Vary', 'Accept-Language')
  vary(@Headers('accept-language') language: string | undefined): { language: string | null; run: number } {
    return { language: language ?? null, run: run('vary') };
  }

  @Get('raw')
  raw(@Res() response: { send(body: unknown): void }): void {
    run('raw');
    response.send({ raw: true });
  }
}

@Injectable()
class SmallBodyInterceptor extends NearCacheInterceptor {
  protected override maxBodyBytes = 10;
}

@Injectable()
class ApiPrefixInterceptor extends NearCacheInterceptor {
  protected override prefix = 'api:';
  protected override statusHeader = 'X-Near-Cache' as const;
}

@Controller('s')
@UseInterceptors(SmallBodyInterceptor)
class SmallController {
  @Get('fits')
  fits(): string {
    run('fits');
    return '1234567890';
  }

  @Get('big')
  big(): string {
    run('big');
    return '12345678901';
  }
}

@Controller('p')
@UseInterceptors(ApiPrefixInterceptor)
class PrefixController {
  @Get('x')
  x(): string {
    run('prefixed');
    return 'x';
  }
}

/** An interceptor around the cache's that fails after it answered: the exception filter's reply must go out, not the cached bytes. */
@Injectable()
class FailingOuterInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      map(() => {
        throw new ConflictException('the outer interceptor refused');
      }),
    );
  }
}

/** Wraps results in `{ data }` but passes a StreamableFile on, as ClassSerializerInterceptor does. */
@Injectable()
class EnvelopeInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((value: unknown) => (value instanceof StreamableFile ? value : { data: value })));
  }
}

@Controller('outer')
class OuterController {
  @Get('failing')
  @UseInterceptors(FailingOuterInterceptor, NearCacheInterceptor)
  failing(): { run: number } {
    return { run: run('failing') };
  }

  @Get('serialized')
  @UseInterceptors(EnvelopeInterceptor, NearCacheInterceptor)
  serialized(): { run: number } {
    return { run: run('serialized') };
  }

  @Get('created')
  @HttpCode(201)
  @UseInterceptors(NearCacheInterceptor)
  created(): string {
    run('created');
    return 'made';
  }
}

@Injectable()
class BadPrefixInterceptor extends NearCacheInterceptor {
  protected override prefix = '';
}

@Controller('bad')
@UseInterceptors(BadPrefixInterceptor)
class BadController {
  @Get()
  get(): string {
    return 'never';
  }
}

describe.each(PLATFORMS)('NearCacheInterceptor on %s: the shared HTTP entry format', (platform) => {
  afterEach(async () => {
    calls.clear();
    vi.restoreAllMocks();
    await closeApps();
    await closePlatformApps();
  });

  const start = () =>
    createOn(platform, {
      imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))],
      controllers: [HttpController, SmallController, PrefixController, OuterController],
    });

  it("stores core's entry under http:GET <url>: status, JSON bytes, content type and a strong ETag; a hit sends the same bytes and headers", async () => {
    const app = await start();
    const server = app.getHttpServer();
    const miss = await request(server).get('/h/json').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.text).toBe('{"hello":"world","run":1}');
    expect(miss.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(miss.headers.etag).toBe(computeEtag(Buffer.from(miss.text)));

    const stored = decodeHttpEntry(app.get(NearCache).get('http:GET /h/json http://127.0.0.1'));
    expect(stored?.entry.status).toBe(200);
    expect(stored?.body.toString()).toBe(miss.text);
    expect(stored?.entry.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', etag: miss.headers.etag });

    const hit = await request(server).get('/h/json').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(hit.headers['content-length']).toBe(String(Buffer.byteLength(miss.text)));
    expect(hit.headers.etag).toBe(miss.headers.etag);
    expect(hit.headers.age).toMatch(/^\d+$/);
    expect(calls.get('json')).toBe(1);
  });

  it('answers a HIT with the headers of the MISS (and Age), for JSON, text, bytes and a type set by the route', async () => {
    const server = (await start()).getHttpServer();
    // Connection-level and per-answer headers aside, a hit carries what the miss carried.
    const perAnswer = new Set(['date', 'connection', 'keep-alive', 'age', 'x-cache']);
    const headersOf = (response: request.Response) => Object.fromEntries(Object.entries(response.headers).filter(([name]) => !perAnswer.has(name)));
    for (const path of ['/h/json', '/h/text', '/h/plain', '/h/bytes']) {
      const miss = await request(server).get(path).expect(200);
      const hit = await request(server).get(path).expect(200);
      expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
      expect(headersOf(hit)).toEqual(headersOf(miss));
      expect(hit.headers.age).toMatch(/^\d+$/);
    }
  });

  it('serialises strings as text/html, or as the type set, and Buffers as bytes', async () => {
    const server = (await start()).getHttpServer();
    for (const [path, type] of [
      ['/h/text', 'text/html; charset=utf-8'],
      ['/h/plain', 'text/plain; charset=utf-8'],
    ] as const) {
      const miss = await request(server).get(path).expect(200);
      const hit = await request(server).get(path).expect(200);
      expect([miss.headers['content-type'], hit.headers['content-type']]).toEqual([type, type]);
      expect(hit.text).toBe(miss.text);
      expect(hit.headers['x-cache']).toBe('HIT');
    }
    const parse = (res: request.Response, done: (error: Error | null, body: Buffer) => void) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    };
    const bytesMiss = await request(server)
      .get('/h/bytes')
      .buffer(true)
      .parse(parse as never)
      .expect(200);
    const bytesHit = await request(server)
      .get('/h/bytes')
      .buffer(true)
      .parse(parse as never)
      .expect(200);
    expect(bytesHit.headers['x-cache']).toBe('HIT');
    expect([bytesMiss.headers['content-type'], bytesHit.headers['content-type']]).toEqual(['application/octet-stream', 'application/octet-stream']);
    expect([...(bytesMiss.body as Buffer)]).toEqual([0, 1, 2, 255]);
    expect([...(bytesHit.body as Buffer)]).toEqual([0, 1, 2, 255]);
    expect([calls.get('text'), calls.get('plain'), calls.get('bytes')]).toEqual([1, 1, 1]);
  });

  it('serves an entry another writer stored in the shared format: its status, headers, bytes and Age, without running the handler', async () => {
    const app = await start();
    const body = Buffer.from('{"from":"express"}');
    await app.get(NearCache).set(
      'http:GET /h/json http://127.0.0.1',
      encodeHttpEntry({
        status: 203,
        headers: { 'content-type': 'application/json; charset=utf-8', etag: 'W/"abc"', 'content-language': 'fr' },
        body,
        storedAt: Date.now() - 30_000,
      }),
    );
    const hit = await request(app.getHttpServer()).get('/h/json').expect(203);
    expect(hit.body).toEqual({ from: 'express' });
    expect(hit.headers.etag).toBe('W/"abc"');
    expect(hit.headers['content-language']).toBe('fr');
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(30);
    expect(calls.get('json')).toBeUndefined();
  });

  it.each([
    ['the exact tag', (etag: string) => etag],
    ['its weak form', (etag: string) => `W/${etag}`],
    ['a list holding it', (etag: string) => `"other", ${etag}`],
    ['*', () => '*'],
  ])('answers If-None-Match with %s by a 304 on a hit', async (_name, header) => {
    const server = (await start()).getHttpServer();
    const miss = await request(server).get('/h/text').expect(200);
    const notModified = await request(server).get('/h/text').set('If-None-Match', header(miss.headers.etag!)).expect(304);
    expect(notModified.headers['x-cache']).toBe('HIT');
    expect(notModified.headers.etag).toBe(miss.headers.etag);
    expect(notModified.text).toBe('');
    const other = await request(server).get('/h/text').set('If-None-Match', '"nope"').expect(200, 'hi there');
    expect(other.headers['x-cache']).toBe('HIT');
    expect(calls.get('text')).toBe(1);
  });

  it('on a miss, stores the full response and answers a matching If-None-Match with a 304', async () => {
    const app = await start();
    const server = app.getHttpServer();
    const first = await request(server)
      .get('/h/text')
      .set('If-None-Match', computeEtag(Buffer.from('hi there')))
      .expect(304);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.text).toBe('');
    const second = await request(server).get('/h/text').expect(200, 'hi there');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(calls.get('text')).toBe(1);
  });

  it.each([
    ['a response with Set-Cookie', '/h/cookie', {}, 'cookie'],
    ['a response with Cache-Control: private', '/h/private', {}, 'private'],
    ['a response to a request with Authorization, unless public', '/h/json', { authorization: 'Bearer t' }, 'json'],
  ])('never stores %s', async (_name, path, headers, name) => {
    const app = await start();
    const server = app.getHttpServer();
    await request(server).get(path).set(headers).expect(200);
    const second = await request(server).get(path).set(headers).expect(200);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(calls.get(name)).toBe(2);
    expect(app.get(NearCache).size).toBe(0);
  });

  it('stores a response to an authorized request marked public', async () => {
    const server = (await start()).getHttpServer();
    await request(server).get('/h/public').set('Authorization', 'Bearer t').expect(200);
    expect((await request(server).get('/h/public').set('Authorization', 'Bearer t').expect(200)).headers['x-cache']).toBe('HIT');
    expect(calls.get('public')).toBe(1);
  });

  it('a request with Cache-Control: no-store is neither served from nor stored in the cache', async () => {
    const app = await start();
    const server = app.getHttpServer();
    const bypass = await request(server).get('/h/json').set('Cache-Control', 'no-store').expect(200);
    expect(bypass.headers['x-cache']).toBe('MISS');
    expect(app.get(NearCache).size).toBe(0);
    await request(server).get('/h/json').expect(200);
    const again = await request(server).get('/h/json').set('Cache-Control', 'no-store').expect(200);
    expect(again.body.run).toBe(3);
    expect((await request(server).get('/h/json').expect(200)).body.run).toBe(2);
  });

  it('does not store what a handler wrote itself with @Res()', async () => {
    const app = await start();
    const server = app.getHttpServer();
    await request(server).get('/h/raw').expect(200, { raw: true });
    await request(server).get('/h/raw').expect(200, { raw: true });
    expect(calls.get('raw')).toBe(2);
    expect(app.get(NearCache).size).toBe(0);
  });

  it('keys on the request headers the response varies on, as Express does', async () => {
    const app = await start();
    const server = app.getHttpServer();
    await request(server).get('/h/vary').set('Accept-Language', 'fr').expect(200, { language: 'fr', run: 1 });
    expect(isHttpVaryIndex(app.get(NearCache).get('http:GET /h/vary http://127.0.0.1'))).toBe(true);
    expect(app.get(NearCache).has('http:GET /h/vary http://127.0.0.1 accept-language=fr')).toBe(true);
    const english = await request(server).get('/h/vary').set('Accept-Language', 'en').expect(200, { language: 'en', run: 2 });
    expect(english.headers['x-cache']).toBe('MISS');
    const french = await request(server).get('/h/vary').set('Accept-Language', 'fr').expect(200, { language: 'fr', run: 1 });
    expect(french.headers['x-cache']).toBe('HIT');
  });

  it('stores bodies up to maxBodyBytes only', async () => {
    const server = (await start()).getHttpServer();
    await request(server).get('/s/fits').expect(200, '1234567890');
    expect((await request(server).get('/s/fits').expect(200)).headers['x-cache']).toBe('HIT');
    await request(server).get('/s/big').expect(200, '12345678901');
    expect((await request(server).get('/s/big').expect(200, '12345678901')).headers['x-cache']).toBe('MISS');
    expect([calls.get('fits'), calls.get('big')]).toEqual([1, 2]);
  });

  it('uses the prefix and status header a subclass sets', async () => {
    const app = await start();
    const server = app.getHttpServer();
    await request(server).get('/p/x').expect(200);
    const hit = await request(server).get('/p/x').expect(200);
    expect(hit.headers['x-near-cache']).toBe('HIT');
    expect(hit.headers['x-cache']).toBeUndefined();
    expect(app.get(NearCache).has('api:GET /p/x http://127.0.0.1')).toBe(true);
    expect(app.get(NearCache).has('http:GET /p/x http://127.0.0.1')).toBe(false);
  });

  it('leaves other replies alone: an interceptor around it that fails gets its error answered, on a miss and on a hit', async () => {
    const app = await start();
    const server = app.getHttpServer();
    const miss = await request(server).get('/outer/failing').expect(409);
    expect(miss.body).toMatchObject({ message: 'the outer interceptor refused' });
    expect(app.get(NearCache).has('http:GET /outer/failing http://127.0.0.1')).toBe(true);
    const hit = await request(server).get('/outer/failing').expect(409);
    expect(hit.body).toMatchObject({ message: 'the outer interceptor refused' });
    expect(calls.get('failing')).toBe(1);
  });

  it('answers through interceptors that pass a StreamableFile on (as ClassSerializerInterceptor does)', async () => {
    const server = (await start()).getHttpServer();
    await request(server).get('/outer/serialized').expect(200, { run: 1 });
    const hit = await request(server).get('/outer/serialized').expect(200, { run: 1 });
    expect(hit.headers['x-cache']).toBe('HIT');
  });

  it("answers with the stored status, not the route's: a 304 on a @HttpCode(201) route, miss and hit", async () => {
    const server = (await start()).getHttpServer();
    const etag = computeEtag(Buffer.from('made'));
    const miss = await request(server).get('/outer/created').set('If-None-Match', etag).expect(304);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['content-type']).toBeUndefined();
    await request(server).get('/outer/created').expect(201, 'made');
    const hit = await request(server).get('/outer/created').set('If-None-Match', etag).expect(304);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(calls.get('created')).toBe(1);
  });

  it('a subclass with a bad setting fails the start with InvalidOptionError', async () => {
    const failure = createOn(platform, { imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], controllers: [BadController] });
    await expect(failure).rejects.toThrow(InvalidOptionError);
    await expect(createOn(platform, { imports: [NearCacheModule.forRoot(inProcess(new InProcessBroker()))], controllers: [BadController] })).rejects.toThrow(
      /NearCacheInterceptor \(BadPrefixInterceptor\): option "prefix" must be a non-empty string/,
    );
  });

  it('fails open when storing fails: the response is sent, the next request runs the handler', async () => {
    const app = await start();
    const cache = app.get(NearCache);
    vi.spyOn(cache, 'set').mockRejectedValue(new Error('the cache is full'));
    // A miss stores through a lease: its fill fails the same way.
    const lease = cache.lease.bind(cache);
    vi.spyOn(cache, 'lease').mockImplementation((key) => {
      const given = lease(key);
      given.fill = () => {
        given.release();
        return Promise.reject(new Error('the cache is full'));
      };
      return given;
    });
    const server = app.getHttpServer();
    await request(server).get('/h/json').expect(200, { hello: 'world', run: 1 });
    await request(server).get('/h/json').expect(200, { hello: 'world', run: 2 });
  });
});

describe('serialising a handler result as Express sends it', () => {
  it.each([
    ['a string', 'hé', undefined, 'hé', 'text/html; charset=utf-8'],
    ['a string with a type set', 'x', 'Text/Plain; Charset=latin1; format=flowed', 'x', 'text/plain; charset=utf-8; format=flowed'],
    ['an object', { a: [1, 'b'] }, undefined, '{"a":[1,"b"]}', 'application/json; charset=utf-8'],
    ['an object with a type set', { a: 1 }, 'application/vnd.api+json', '{"a":1}', 'application/vnd.api+json; charset=utf-8'],
    ['a number (as Nest sends it)', 5, undefined, '5', 'text/html; charset=utf-8'],
    ['a Buffer', Buffer.from('raw'), undefined, 'raw', 'application/octet-stream'],
  ])('%s', (_name, value, type, body, contentType) => {
    const serialised = serialiseResult(value, type);
    expect(serialised?.body.toString()).toBe(body);
    expect(serialised?.contentType).toBe(contentType);
  });

  it('has nothing for undefined, null and functions', () => {
    expect(serialiseResult(undefined, undefined)).toBeUndefined();
    expect(serialiseResult(null, undefined)).toBeUndefined();
    expect(serialiseResult(() => 1, undefined)).toBeUndefined();
  });

  it('sets the charset as Express does', () => {
    expect(withCharset('application/json')).toBe('application/json; charset=utf-8');
    expect(withCharset('text/html; charset=ISO-8859-1')).toBe('text/html; charset=utf-8');
  });
});

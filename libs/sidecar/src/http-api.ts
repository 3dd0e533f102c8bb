// The HTTP API beside the Redis listener: a key's value (GET, PUT with a TTL, DELETE), /health
// for probes and /metrics for Prometheus. docs/sidecar.md describes it.
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isNearCacheError, type NearCache } from '@nearcache/core';
import { health, isHealthy, metricsText, type SidecarFigures } from './report.js';
import { valueText } from './values.js';

export interface HttpApiDeps {
  cache: NearCache<unknown>;
  figures(): SidecarFigures;
  checkPassword(password: Buffer): boolean;
  passwordRequired: boolean;
}

const KEY_PATH = '/keys/';

function send(res: ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function problem(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  send(res, status, `${JSON.stringify({ error: message })}\n`, 'application/json', headers);
}

function authorised(req: IncomingMessage, deps: HttpApiDeps): boolean {
  if (!deps.passwordRequired) return true;
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  return deps.checkPassword(Buffer.from(header.slice(7), 'utf8'));
}

/** The body of a request, or undefined (and the answer sent) when it is larger than `limit`. */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      problem(res, 413, `the body is larger than ${limit} bytes`, { connection: 'close' });
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        problem(res, 413, `the body is larger than ${limit} bytes`, { connection: 'close' });
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', () => {
      if (!done) resolve(undefined);
      done = true;
    });
  });
}

async function keyRoute(req: IncomingMessage, res: ServerResponse, deps: HttpApiDeps, url: URL): Promise<void> {
  const { cache } = deps;
  let key: string;
  try {
    key = decodeURIComponent(url.pathname.slice(KEY_PATH.length));
  } catch {
    problem(res, 400, 'the key in the path is not valid percent-encoded UTF-8');
    return;
  }
  if (key.length === 0) {
    problem(res, 400, 'the path names no key: /keys/<key>');
    return;
  }
  try {
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const value = cache.get(key);
        if (value === undefined) {
          problem(res, 404, 'no entry for this key');
          return;
        }
        const left = cache.remainingTtl(key);
        send(res, 200, valueText(value), typeof value === 'string' ? 'text/plain; charset=utf-8' : 'application/json', {
          'x-ttl-ms': String(left === Infinity ? -1 : Math.max(1, Math.floor(left))),
        });
        return;
      }
      case 'PUT': {
        const ttlText = url.searchParams.get('ttl');
        let ttl: number | undefined;
        if (ttlText !== null) {
          ttl = /^\d{1,13}$/.test(ttlText) ? Number(ttlText) : NaN;
          if (!(ttl >= 1)) {
            problem(res, 400, 'query parameter "ttl" must be a whole number of milliseconds, at least 1');
            return;
          }
        }
        const body = await readBody(req, res, cache.limits.maxValueBytes);
        if (body === undefined) return;
        if (!isUtf8(body)) {
          problem(res, 400, "the body is not valid UTF-8: the sidecar stores text, which the topic's JSON codec carries");
          return;
        }
        await cache.set(key, body.toString('utf8'), ttl === undefined ? undefined : { ttl });
        send(res, 204, '');
        return;
      }
      case 'DELETE':
        await cache.delete(key);
        send(res, 204, '');
        return;
      default:
        problem(res, 405, 'the methods of /keys/<key> are GET, HEAD, PUT and DELETE', { allow: 'GET, HEAD, PUT, DELETE' });
    }
  } catch (error) {
    if (isNearCacheError(error)) problem(res, 400, `${error.message} (${error.code})`);
    else problem(res, 500, 'the cache call failed');
  }
}

/** The request handler of the HTTP API. */
export function httpApi(deps: HttpApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sidecar');
    } catch {
      problem(res, 400, 'unreadable request target');
      return;
    }
    if (url.pathname === '/health') {
      const stats = deps.cache.stats();
      send(res, isHealthy(stats) ? 200 : 503, `${JSON.stringify(health(stats))}\n`, 'application/json');
      return;
    }
    if (!authorised(req, deps)) {
      problem(res, 401, 'send the sidecar password as "Authorization: Bearer <password>"', { 'www-authenticate': 'Bearer' });
      return;
    }
    if (url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, metricsText(deps.figures()), 'text/plain; version=0.0.4; charset=utf-8');
      return;
    }
    if (url.pathname.startsWith(KEY_PATH)) {
      void keyRoute(req, res, deps, url);
      return;
    }
    problem(res, 404, 'the routes are /keys/<key>, /health and /metrics');
  };
}

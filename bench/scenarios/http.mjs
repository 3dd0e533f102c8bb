// 15. http: the example's product pages under an HTTP load generator (autocannon, driven through
// its programmatic API from this process), served from a cache HIT by nearcache's Nest
// interceptor and Express middleware, by @nestjs/cache-manager's CacheInterceptor on its
// in-memory store and on a Redis store, and by the uncached handler over a 20 ms data source.
// Each server is a process of its own on 127.0.0.1 (bench/workers/http-server.mjs), pinned to
// another CPU than this one where the runner pins; rounds interleave the servers (one server under
// load at a time, the others idle) and every figure is the median over rounds. Two load levels,
// both in every round: one connection (each request alone: its rate is the inverse of what one
// request waits, Redis's round trip included) and 10 connections (the server's CPU saturated:
// what a CPU serves). A second cache-manager in-memory server, in the same rounds, is the A/A
// comparison behind the noise band of each level.
import { fork } from 'node:child_process';
import autocannon from 'autocannon';
import { QUICK, check, log, median, noise, percentile, report, roundOrder, roundRatios, sleep, verdictFields } from '../lib.mjs';

const ROUNDS = QUICK ? 4 : 10;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const WARM_S = QUICK ? 1 : 1.5;
const PRODUCTS = 100;
const paths = Array.from({ length: PRODUCTS }, (_, i) => `/products/${i + 1}`);
/**
 * The load levels, each measured on every server in every round. `c1`: one connection, the next
 * request sent when the answer is in, so each request is alone on the server; `c10`: 10
 * connections, enough to keep the server's CPU busy (the servers are CPU-bound on loopback).
 */
const LEVELS = [
  { id: 'c1', connections: 1, seconds: 1, name: 'one connection', short: '1 connection' },
  { id: 'c10', connections: 10, seconds: QUICK ? 1 : 1.5, name: '10 connections (saturated)', short: '10 connections' },
];

const redisSkipped = process.env.REDIS_URL ? undefined : (process.env.REDIS_SKIPPED ?? 'skipped: REDIS_URL not set');
/** The servers, by kind (bench/workers/http-server.mjs); `cm-memory-aa` is a second `cm-memory`. */
const SERVERS = [
  { id: 'nearcache-nest', kind: 'nearcache-nest', label: 'nearcache, Nest interceptor HIT', hit: true },
  { id: 'nearcache-express', kind: 'nearcache-express', label: 'nearcache, Express middleware HIT', hit: true },
  { id: 'cm-memory', kind: 'cm-memory', label: '@nestjs/cache-manager, in-memory HIT', hit: true },
  ...(redisSkipped ? [] : [{ id: 'cm-redis', kind: 'cm-redis', label: '@nestjs/cache-manager, Redis HIT', hit: true }]),
  { id: 'uncached', kind: 'uncached', label: 'uncached handler, 20 ms data source', hit: false },
  { id: 'cm-memory-aa', kind: 'cm-memory', label: '@nestjs/cache-manager, in-memory HIT (A/A copy)', hit: true },
];

// The servers take the first peer CPU (not this process's), as bench/run.mjs says (BENCH_PEER_CPUS).
const serverCpu = (process.env.BENCH_PEER_CPUS ?? '').split(',').filter(Boolean)[0];

/** Starts one server process; resolves with its port once it listens. */
function startServer(server) {
  const pin = serverCpu === undefined ? {} : { execPath: 'taskset', execArgv: ['-c', serverCpu, process.execPath] };
  const child = fork(new URL('../workers/http-server.mjs', import.meta.url), [server.kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...pin });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${server.id}: not listening after 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${server.id} exited with ${code} before listening`)));
    child.once('message', (message) => {
      clearTimeout(timer);
      const cpu = () =>
        new Promise((answer) => {
          child.once('message', (m) => answer(m.us));
          child.send({ cmd: 'cpu' });
        });
      resolve({ ...server, child, cpu, port: message.port, url: `http://127.0.0.1:${message.port}` });
    });
  });
}

async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.disconnect();
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * One pass of autocannon against `server` with `connections` connections: requests per second
 * (2xx answers over the pass's duration), the exact latency of every answer (autocannon's
 * 'response' event gives each one in ms with sub-ms precision; its own histogram keeps whole ms),
 * and the server process's CPU time per request (user + system), which other work on the machine
 * disturbs much less than its rate.
 */
async function load(server, connections, seconds) {
  const latencies = [];
  const cpu0 = await server.cpu();
  const instance = autocannon({
    url: server.url,
    connections,
    pipelining: 1,
    duration: seconds,
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  const cpuUs = (await server.cpu()) - cpu0;
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0)
    throw new Error(`${server.id}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers under load`);
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: result['2xx'] / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuUsPerRequest: cpuUs / result['2xx'],
    requests: result['2xx'],
  };
}

log(`http: starting ${SERVERS.length} servers${serverCpu === undefined ? '' : ` on CPU ${serverCpu}`}`);
const servers = [];
try {
  for (const server of SERVERS) servers.push(await startServer(server));
  log(`http: servers listening after ${elapsed()}`);

  // Warm-up: every page once (the caches fill), then checks that each server answers what it should,
  // the same body everywhere, then an unmeasured pass of autocannon per server at each level.
  const bodies = new Map();
  for (const server of servers) {
    for (const path of paths) await (await fetch(server.url + path)).arrayBuffer();
    const answer = await fetch(`${server.url}/products/1`);
    const body = await answer.text();
    if (answer.status !== 200) throw new Error(`${server.id}: /products/1 answered ${answer.status}`);
    const cache = answer.headers.get('x-cache');
    if (server.hit && cache !== 'HIT') throw new Error(`${server.id}: /products/1 answered X-Cache ${cache} after the warm-up, not HIT`);
    bodies.set(server.id, body);
  }
  if (new Set(bodies.values()).size !== 1) throw new Error(`the servers answer different bodies: ${JSON.stringify(Object.fromEntries(bodies))}`);
  for (const server of servers) for (const level of LEVELS) await load(server, level.connections, WARM_S);

  log(`http: warm-up done after ${elapsed()}`);
  // Every round: the servers in turn (rotated and reversed by roundOrder), each at both levels,
  // back to back, the level measured first alternating from round to round.
  const rounds = Object.fromEntries(LEVELS.map((l) => [l.id, Object.fromEntries(servers.map((s) => [s.id, []]))]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const server of roundOrder(r, servers)) {
      for (const level of r % 2 === 0 ? LEVELS : [...LEVELS].reverse()) {
        rounds[level.id][server.id].push(await load(server, level.connections, level.seconds));
        await sleep(100); // the last connections close before the next pass
      }
    }
  }

  log(`http: ${ROUNDS} rounds done after ${elapsed()}`);
  const x = (v) => (v === undefined ? '-' : `${v.toFixed(2)}x`);
  const checks = [];
  const levels = {};
  const lines = [];
  for (const level of LEVELS) {
    const of = rounds[level.id];
    const results = Object.fromEntries(
      servers.map((s) => {
        const rs = of[s.id];
        return [
          s.id,
          {
            label: s.label,
            rps: median(rs.map((v) => v.rps)),
            p50ms: median(rs.map((v) => v.p50)),
            p99ms: median(rs.map((v) => v.p99)),
            cpuUsPerRequest: median(rs.map((v) => v.cpuUsPerRequest)),
            // The share of one CPU the server used: its rate times its CPU per request (near 1
            // when its CPU bounds the rate, lower when the load generator or the machine does).
            cpuBusy: median(rs.map((v) => (v.rps * v.cpuUsPerRequest) / 1e6)),
            requests: rs.reduce((a, v) => a + v.requests, 0),
            rounds: rs,
          },
        ];
      }),
    );
    // Every ratio is nearcache's figure over the other server's (req/s: higher is better; p50,
    // p99, CPU per request: lower is better), with the band of the same ratio between the A/A copy
    // and cache-manager in memory, over the same rounds.
    const STATS = { rps: 'rps', p50: 'p50ms', p99: 'p99ms', cpu: 'cpuUsPerRequest' };
    const PASS_STAT = { rps: 'rps', p50: 'p50', p99: 'p99', cpu: 'cpuUsPerRequest' };
    const perRound = (id, stat) => of[id].map((v) => v[PASS_STAT[stat]]);
    const bands = Object.fromEntries(
      Object.keys(STATS).map((stat) => [
        stat,
        noise({
          aa: results['cm-memory-aa'][STATS[stat]] / results['cm-memory'][STATS[stat]],
          rounds: roundRatios(perRound('cm-memory-aa', stat), perRound('cm-memory', stat)),
        }),
      ]),
    );
    const band = bands.rps;
    const tag = `c=${level.connections}`;
    const ratios = {};
    const levelChecks = [];
    for (const [ours, name] of [
      ['nearcache-nest', 'Nest'],
      ['nearcache-express', 'Express'],
    ]) {
      ratios[ours] = { vsUncached: results[ours].rps / results.uncached.rps };
      for (const [other, suffix] of [
        ['cm-memory', 'Memory'],
        ['cm-redis', 'Redis'],
      ]) {
        if (!results[other]) continue;
        for (const stat of Object.keys(STATS)) {
          const value = results[ours][STATS[stat]] / results[other][STATS[stat]];
          const key = stat === 'rps' ? `vs${suffix}` : `${stat}Vs${suffix}`;
          ratios[ours][key] = value;
          ratios[ours][`band${key[0].toUpperCase()}${key.slice(1)}`] = bands[stat].band(value);
        }
      }
      if (level.connections === 1) {
        // One connection: how fast a request is answered, as the median time it waits (the
        // other server's p50 over nearcache's: times as fast). Its mean, the inverse of the
        // requests per second, is decided on a shared machine by a few scheduling stalls (p99
        // 20 to 40 times the p50), the median by the request's own path; both are reported.
        // The Redis target is here: the request's own time, where Redis's round trip lies.
        // Saturated, the server's CPU bounds the rate, and on loopback a Redis GET costs it
        // about the CPU of the in-memory lookup, so that ratio is reported, not checked.
        ratios[ours].speedVsMemory = 1 / ratios[ours].p50VsMemory;
        levelChecks.push(check(`${name}/cm memory ${tag} (p50)`, ratios[ours].speedVsMemory, '>=', 1, bands.p50));
        if (results['cm-redis']) {
          ratios[ours].speedVsRedis = 1 / ratios[ours].p50VsRedis;
          levelChecks.push(check(`${name}/cm Redis ${tag} (p50)`, ratios[ours].speedVsRedis, '>=', 1.5, bands.p50));
        }
      } else {
        levelChecks.push(check(`${name}/cm memory ${tag}`, ratios[ours].vsMemory, '>=', 1, band));
      }
    }
    checks.push(...levelChecks);
    levels[level.id] = {
      name: level.name,
      short: level.short,
      connections: level.connections,
      durationSeconds: level.seconds,
      results,
      ratios,
      aa: Object.fromEntries(Object.entries(bands).map(([stat, n]) => [stat, { ratio: n.aa, rounds: n.rounds, text: n.text }])),
    };
    for (const s of servers) {
      const v = results[s.id];
      log(
        `http ${tag.padEnd(5)} ${s.label.padEnd(48)} ${v.rps.toFixed(0).padStart(6)} req/s  p50 ${v.p50ms.toFixed(2)} ms  p99 ${v.p99ms.toFixed(2)} ms  server CPU ${v.cpuUsPerRequest.toFixed(0)} µs/request, ${(v.cpuBusy * 100).toFixed(0)}% busy`,
      );
    }
    const nest = ratios['nearcache-nest'];
    const express = ratios['nearcache-express'];
    const range = (b) => `${b[0].toFixed(2)}..${b[1].toFixed(2)}`;
    const redisNote = (r) => (r.bandVsRedis ? ` (band ${range(r.bandVsRedis)})` : '');
    const line =
      level.connections === 1
        ? {
            title: `HTTP HITs, one connection (each request alone): nearcache vs @nestjs/cache-manager (memory, Redis)`,
            measured: `times as fast (p50) as cm memory, Redis: Nest ${x(nest.speedVsMemory)}, ${x(nest.speedVsRedis)}; Express ${x(express.speedVsMemory)}, ${x(express.speedVsRedis)} (band ${bands.p50.text}); req/s vs cm memory, Redis: Nest ${x(nest.vsMemory)}, ${x(nest.vsRedis)}; Express ${x(express.vsMemory)}, ${x(express.vsRedis)} (band ${band.text})`,
            target: `HIT >= 1.0x cm memory${redisSkipped ? '' : ', >= 1.5x cm Redis'}, by p50`,
          }
        : {
            title: `HTTP HITs, 10 connections (server CPU saturated): nearcache vs @nestjs/cache-manager (memory; Redis reported)`,
            measured: `req/s vs cm memory: Nest ${x(nest.vsMemory)}, Express ${x(express.vsMemory)}${redisSkipped ? '' : `; vs cm Redis, reported: Nest ${x(nest.vsRedis)}${redisNote(nest)}, Express ${x(express.vsRedis)}${redisNote(express)}`}`,
            target: `HIT >= 1.0x cm memory${redisSkipped ? '' : '; vs cm Redis reported'}`,
          };
    lines.push({ scenario: `http ${tag}`, ...line, ...verdictFields(levelChecks) });
  }

  const levelText = LEVELS.map((l) => `${l.name}, ${l.seconds} s per pass`).join('; ');
  report({
    scenario: 'http',
    title: 'HTTP HITs at one connection and at 10 (saturated): nearcache vs @nestjs/cache-manager (memory, Redis) and no cache',
    method: `autocannon (programmatic API, in the bench process) against the example's product pages (GET /products/:id, ${PRODUCTS} products cycled by every connection, bodies of about 100 B), no pipelining, at two load levels (${levelText}); each server a process of its own on 127.0.0.1${serverCpu === undefined ? '' : `, pinned to CPU ${serverCpu} (the load generator on another)`}, one under load at a time, both levels back to back (the first alternating); ${ROUNDS} interleaved rounds, median over rounds of requests per second, of each pass's p50 and p99 latency (every answer's time from autocannon's response event) and of the server process's CPU time per request (user + system; times the requests per second, the share of its CPU the server used). One connection sends the next request when the answer is in: each request is alone, its requests per second are the inverse of what a request waits (the load generator's own time per request included, the same for every server), and a Redis store's round trip is part of it. Ten connections keep the server's CPU busy: the rate is what one CPU serves, and there a Redis GET on loopback costs the server about the CPU of cache-manager's in-memory lookup (compare the two stores' CPU per request: the request waits on Redis, the CPU does not), so the two stores come close; on a network the round trip only grows, the CPU it costs does not. Hence the Redis target is checked on one connection, and the saturated ratio against Redis is reported beside it. At one connection the checks compare the median wait (p50: the other server's over nearcache's, times as fast), which the request's own path decides; the requests per second there, the inverse of the mean wait, are decided on a shared machine by a few scheduling stalls and are reported beside it. Every server runs the example's request tracker middleware. Cache HITs were checked (X-Cache: HIT) and all bodies are the same. The uncached handler waits for the example's data source, set to 20 ms. nearcache runs on an in-process log (a HIT does not touch the log). A/A: a second cache-manager in-memory server in the same rounds; nearcache's ratios to cache-manager of requests per second, p50 (checked at one connection), p99 and CPU per request each have the band of the same ratio between the copy and cache-manager in memory at that level${redisSkipped ? `; Redis ${redisSkipped}` : ''}`,
    measured: lines.map((l) => `${l.scenario.slice(5)}: ${l.measured}`).join('; '),
    target: `HIT >= 1.0x cm memory at both levels (one connection: p50; 10: req/s)${redisSkipped ? '' : ', >= 1.5x cm Redis at one connection (p50; saturated: reported)'}`,
    ...verdictFields(checks),
    lines,
    levels,
    rounds: ROUNDS,
    ...(redisSkipped ? { skipped: `Redis ${redisSkipped}` } : {}),
  });
} finally {
  await Promise.all(servers.map(stopServer));
}

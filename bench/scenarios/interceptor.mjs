// 9. interceptor: what a NearCacheInterceptor HIT costs, against the same controller answering
// from a @Cached hit (the handler runs, its service method returns the cached value, Nest
// serialises it), and an uncached handler returning the value, in one Nest app on Express.
// For reference, a fourth route answers through the least an interceptor can do: one that
// returns the value without running the handler (`of(value)`), which Nest then serialises;
// what it costs above the @Cached hit is Nest's interceptor pipeline, which any interceptor
// answer pays.
// Each request is a real HTTP request over loopback (keep-alive) sent by this process, one at a
// time; a pass measures the process's CPU time (user + system, what the request costs the
// client and the server, which other processes on the machine barely disturb) and the wall
// time per request. Rounds interleave the routes; the figure is the median over rounds. A second
// @Cached route (its own service method and keys) is the A/A comparison behind the noise band.
// The same HIT and @Cached routes, and their A/A copy, also answer a body of about 5 KB (an order
// with 30 lines, `makeRow`), in the same rounds: the @Cached hit serialises it and Express hashes
// it for its ETag on every request, where the HIT sends the bytes it stored. For reference, the
// HIT and the @Cached hit also run behind another interceptor that passes everything through (as
// a logging or serialising interceptor would, on many applications' routes): then both routes pay
// Nest's interceptor pipeline.
import http from 'node:http';
import { of } from 'rxjs';
import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module, Param, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { inProcessLog, InProcessBroker, silentLogger } from '@nearcache/core';
import { Cached, NearCacheInterceptor, NearCacheModule } from '@nearcache/nestjs';
import { QUICK, check, makeRow, makeValue, median, noise, now, report, log, roundOrder, roundRatios, verdictFields } from '../lib.mjs';

const KEYS = 100;
const REQUESTS = 500;
const ROUNDS = QUICK ? 9 : 21;
const values = Array.from({ length: KEYS }, (_, i) => makeValue(i));
// Values as an application holds them (parsed, with live Dates): the 5 KB case.
const rows = Array.from({ length: KEYS }, (_, i) => makeRow(i, 30));

// The app, decorated as TypeScript would (this file is plain JavaScript).
class ItemsService {
  async item(id) {
    return values[Number(id)];
  }
  async item2(id) {
    return values[Number(id)];
  }
  async row(id) {
    return rows[Number(id)];
  }
  async row2(id) {
    return rows[Number(id)];
  }
}
Reflect.decorate([Cached({ key: 'item:{0}' })], ItemsService.prototype, 'item', Object.getOwnPropertyDescriptor(ItemsService.prototype, 'item'));
Reflect.decorate([Cached({ key: 'item2:{0}' })], ItemsService.prototype, 'item2', Object.getOwnPropertyDescriptor(ItemsService.prototype, 'item2'));
Reflect.decorate([Cached({ key: 'row:{0}' })], ItemsService.prototype, 'row', Object.getOwnPropertyDescriptor(ItemsService.prototype, 'row'));
Reflect.decorate([Cached({ key: 'row2:{0}' })], ItemsService.prototype, 'row2', Object.getOwnPropertyDescriptor(ItemsService.prototype, 'row2'));
Reflect.decorate([Injectable()], ItemsService);

/** The least an interceptor answer costs: the value, without running the handler or looking anything up. */
class ConstantInterceptor {
  intercept(context) {
    return of(values[Number(context.switchToHttp().getRequest().params.id)]);
  }
}
Reflect.decorate([Injectable()], ConstantInterceptor);

/** Another interceptor on a route, passing everything through (as a logging interceptor would). */
class PassThroughInterceptor {
  intercept(_context, next) {
    return next.handle();
  }
}
Reflect.decorate([Injectable()], PassThroughInterceptor);

class ItemsController {
  constructor(items) {
    this.items = items;
  }
  intercepted(id) {
    return values[Number(id)];
  }
  cached(id) {
    return this.items.item(id);
  }
  cached2(id) {
    return this.items.item2(id);
  }
  plain(id) {
    return values[Number(id)];
  }
  constant(id) {
    return values[Number(id)];
  }
  interceptedRow(id) {
    return rows[Number(id)];
  }
  cachedRow(id) {
    return this.items.row(id);
  }
  cachedRow2(id) {
    return this.items.row2(id);
  }
  interceptedBehind(id) {
    return values[Number(id)];
  }
  cachedBehind(id) {
    return this.items.item(id);
  }
}
const route = (name, decorators) => {
  Param('id')(ItemsController.prototype, name, 0);
  Reflect.defineMetadata('design:paramtypes', [String], ItemsController.prototype, name);
  const descriptor = Object.getOwnPropertyDescriptor(ItemsController.prototype, name);
  Object.defineProperty(ItemsController.prototype, name, Reflect.decorate(decorators, ItemsController.prototype, name, descriptor) ?? descriptor);
};
route('intercepted', [Get('intercepted/:id'), UseInterceptors(NearCacheInterceptor)]);
route('cached', [Get('cached/:id')]);
route('cached2', [Get('cached2/:id')]);
route('plain', [Get('plain/:id')]);
route('constant', [Get('constant/:id'), UseInterceptors(ConstantInterceptor)]);
route('interceptedRow', [Get('intercepted-row/:id'), UseInterceptors(NearCacheInterceptor)]);
route('cachedRow', [Get('cached-row/:id')]);
route('cachedRow2', [Get('cached-row2/:id')]);
route('interceptedBehind', [Get('intercepted-behind/:id'), UseInterceptors(PassThroughInterceptor, NearCacheInterceptor)]);
route('cachedBehind', [Get('cached-behind/:id'), UseInterceptors(PassThroughInterceptor)]);
Inject(ItemsService)(ItemsController, undefined, 0);
Reflect.decorate([Controller()], ItemsController);

class AppModule {}
Reflect.decorate(
  [
    Module({
      imports: [NearCacheModule.forRoot({ topic: 'bench.interceptor', log: inProcessLog(new InProcessBroker()), logger: silentLogger, max: 10 * KEYS })],
      controllers: [ItemsController],
      providers: [ItemsService],
    }),
  ],
  AppModule,
);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET; resolves with its status, X-Cache and body length once the last byte arrived. */
function get(path) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      let length = 0;
      response.on('data', (chunk) => (length += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode, cache: response.headers['x-cache'], length }));
    });
    request.on('error', reject);
  });
}

/** The path of each route (route name -> path prefix). */
const PATHS = {
  intercepted: 'intercepted',
  cached: 'cached',
  plain: 'plain',
  constant: 'constant',
  cached2: 'cached2',
  interceptedRow: 'intercepted-row',
  cachedRow: 'cached-row',
  cachedRow2: 'cached-row2',
  interceptedBehind: 'intercepted-behind',
  cachedBehind: 'cached-behind',
};

/** CPU and wall µs per request over REQUESTS sequential requests to `/<route>/<id>`. */
async function pass(name) {
  const prefix = PATHS[name];
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < REQUESTS; i++) await get(`/${prefix}/${i % KEYS}`);
  const wall = Number(now() - t0) / REQUESTS / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / REQUESTS, wall };
}

// Warm-up: fills the interceptor's and @Cached's entries, and checks what each route answers.
const lengths = {};
const ROUTES = Object.keys(PATHS);
for (const name of ROUTES) {
  for (let i = 0; i < KEYS; i++) await get(`/${PATHS[name]}/${i}`);
  const answer = await get(`/${PATHS[name]}/1`);
  if (answer.status !== 200) throw new Error(`/${PATHS[name]}/1 answered ${answer.status}`);
  lengths[name] = answer.length;
  await pass(name);
}
for (const path of ['/intercepted/1', '/intercepted-row/1', '/intercepted-behind/1'])
  if ((await get(path)).cache !== 'HIT') throw new Error(`the interceptor route ${path} does not answer HIT after the warm-up`);
const small = ROUTES.filter((name) => !name.includes('Row'));
const large = ROUTES.filter((name) => name.includes('Row'));
for (const group of [small, large])
  if (new Set(group.map((name) => lengths[name])).size !== 1) throw new Error(`the routes answer different bodies: ${JSON.stringify(lengths)}`);

const rounds = Object.fromEntries(ROUTES.map((name) => [name, []]));
const walls = Object.fromEntries(ROUTES.map((name) => [name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const name of roundOrder(r, ROUTES)) {
    const { cpu, wall } = await pass(name);
    rounds[name].push(cpu);
    walls[name].push(wall);
  }
}
agent.destroy();
await app.close();

const hitUs = median(rounds.intercepted);
const cachedUs = median(rounds.cached);
const plainUs = median(rounds.plain);
const constantUs = median(rounds.constant);
const ratio = hitUs / cachedUs;
const wallRatio = median(walls.intercepted) / median(walls.cached);
// A/A: the second @Cached route in the HIT's place.
const band = noise({ aa: median(rounds.cached2) / cachedUs, rounds: roundRatios(rounds.cached2, rounds.cached) });
// The 5 KB body: the same comparison, with its own A/A copy.
const rowHitUs = median(rounds.interceptedRow);
const rowCachedUs = median(rounds.cachedRow);
const rowRatio = rowHitUs / rowCachedUs;
const rowWallRatio = median(walls.interceptedRow) / median(walls.cachedRow);
const rowBand = noise({ aa: median(rounds.cachedRow2) / rowCachedUs, rounds: roundRatios(rounds.cachedRow2, rounds.cachedRow) });
// Reference: both routes behind a pass-through interceptor.
const behindHitUs = median(rounds.interceptedBehind);
const behindCachedUs = median(rounds.cachedBehind);
const behindRatio = behindHitUs / behindCachedUs;
const checks = [check(`${lengths.cached} B`, ratio, '<=', 1, band), check(`${(lengths.cachedRow / 1000).toFixed(1)} KB`, rowRatio, '<=', 1, rowBand)];
log(
  `interceptor: CPU per request: HIT ${hitUs.toFixed(1)} µs, @Cached hit ${cachedUs.toFixed(1)} µs, uncached handler ${plainUs.toFixed(1)} µs, an interceptor returning of(value) ${constantUs.toFixed(1)} µs; wall HIT/@Cached ${wallRatio.toFixed(2)}; ${lengths.cachedRow} B body: HIT ${rowHitUs.toFixed(1)} µs, @Cached hit ${rowCachedUs.toFixed(1)} µs, wall ${rowWallRatio.toFixed(2)}; behind a pass-through interceptor: HIT ${behindHitUs.toFixed(1)} µs, @Cached hit ${behindCachedUs.toFixed(1)} µs`,
);
report({
  scenario: 'interceptor',
  title: 'NearCacheInterceptor HIT vs the same controller on a @Cached hit',
  method: `CPU time (user + system) per HTTP request over loopback (keep-alive, one at a time, client in the same process; ${REQUESTS} requests per pass over ${KEYS} keys of about 200 B JSON (${lengths.cached} B bodies), and the same for the HIT and the @Cached hit with bodies of about 5 KB (${lengths.cachedRow} B: an order with 30 lines and 63 dates, served as JSON) in one Nest app on Express; median of ${ROUNDS} interleaved rounds of the routes. Wall time per request is reported beside it. Reference: an interceptor returning the value (of(value)) without a lookup, the least an interceptor answer costs in Nest; and the HIT and the @Cached hit (200 B) each behind another interceptor passing everything through, so that both pay Nest's interceptor pipeline. A/A: a second @Cached route (its own method and keys) for each body size in the same rounds, the noise band of each ratio`,
  ratio,
  ratioLabel: `HIT/@Cached = ${ratio.toFixed(2)} (wall ${wallRatio.toFixed(2)}); HIT/uncached handler = ${(hitUs / plainUs).toFixed(2)}; of(value) interceptor/@Cached = ${(constantUs / cachedUs).toFixed(2)}; at ${lengths.cachedRow} B: HIT/@Cached = ${rowRatio.toFixed(2)} (wall ${rowWallRatio.toFixed(2)}); both behind a pass-through interceptor: HIT/@Cached = ${behindRatio.toFixed(2)}`,
  measured: `${ratio.toFixed(2)}x (${hitUs.toFixed(0)} vs ${cachedUs.toFixed(0)} µs CPU); 5 KB ${rowRatio.toFixed(2)}x (${rowHitUs.toFixed(0)} vs ${rowCachedUs.toFixed(0)})`,
  target: 'HIT <= @Cached hit (<= 1.00x)',
  ...verdictFields(checks),
  interceptorHit: { cpuUsPerRequest: hitUs, rounds: rounds.intercepted, wallRounds: walls.intercepted },
  cachedHit: { cpuUsPerRequest: cachedUs, rounds: rounds.cached, wallRounds: walls.cached },
  uncached: { cpuUsPerRequest: plainUs, rounds: rounds.plain, wallRounds: walls.plain },
  constantInterceptor: { cpuUsPerRequest: constantUs, rounds: rounds.constant, wallRounds: walls.constant },
  wallRatio,
  aa: { ratio: band.aa, cpuUsPerRequest: median(rounds.cached2), rounds: rounds.cached2 },
  largeBody: {
    bytes: lengths.cachedRow,
    ratio: rowRatio,
    wallRatio: rowWallRatio,
    interceptorHit: { cpuUsPerRequest: rowHitUs, rounds: rounds.interceptedRow, wallRounds: walls.interceptedRow },
    cachedHit: { cpuUsPerRequest: rowCachedUs, rounds: rounds.cachedRow, wallRounds: walls.cachedRow },
    aa: { ratio: rowBand.aa, cpuUsPerRequest: median(rounds.cachedRow2), rounds: rounds.cachedRow2 },
  },
  behindPassThrough: {
    ratio: behindRatio,
    interceptorHit: { cpuUsPerRequest: behindHitUs, rounds: rounds.interceptedBehind, wallRounds: walls.interceptedBehind },
    cachedHit: { cpuUsPerRequest: behindCachedUs, rounds: rounds.cachedBehind, wallRounds: walls.cachedBehind },
  },
});

// 9. Invalidation that piles up: the start-up of a fresh instance after N route invalidations,
// and the time another instance spends applying one invalidation, with the HTTP invalidation
// helper (the route's clear records, and tombstones of the keys it removes when the instance
// holds every key) against prefix clears alone (two clear records per call). Each clear reads
// only the keys under its prefix (an ordered index of the keys), so both should stay flat.
// On the in-process log of @nearcache/core, which keeps every record: no broker noise. A/A: the
// start-up without invalidations and the apply at the smaller size, each measured twice, give
// the noise bands of the two ratios.
import { createNearCache, encodeHttpEntry, InProcessBroker, inProcessLog, invalidateHttpRoute, silentLogger } from '@nearcache/core';
import { QUICK, check, log, median, noise, report, roundOrder, roundRatios, verdictFields, wallMs } from '../lib.mjs';

const ENTRIES = QUICK ? 10_000 : 50_000;
const N = QUICK ? 50 : 200;
const ROUNDS = QUICK ? 2 : 3;
const ORIGIN = 'http://shop.example';
const pageKey = (i) => `http:GET /products/${i} ${ORIGIN}`;
const entry = (i) =>
  encodeHttpEntry({
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: Buffer.from(JSON.stringify({ id: i, name: `product ${i}` })),
  });

const open = (broker, topic) => createNearCache({ topic, log: inProcessLog(broker), max: ENTRIES * 2, maxBytes: 0, logger: silentLogger });

/** A topic of `entries` pages after `n` invalidations written the `way` given; returns the broker and a live writer. */
async function topicAfter(way, entries, n) {
  const broker = new InProcessBroker();
  const topic = `bench.invalidate.${way}.${n}`;
  const writer = open(broker, topic);
  await writer.ready();
  for (let i = 0; i < entries; i++) void writer.set(pageKey(i), entry(i));
  await writer.flush();
  for (let i = 0; i < n; i++) {
    const path = `/products/${i}`;
    if (way === 'helper') await invalidateHttpRoute(writer, path);
    else await Promise.all([writer.clearPrefix(`http:GET ${path} `), writer.clearPrefix(`http:GET ${path}?`)]);
    void writer.set(pageKey(i), entry(i)); // the page is computed again after the update
  }
  await writer.flush();
  return { broker, topic, writer };
}

async function startupMs(broker, topic) {
  const started = wallMs();
  const fresh = open(broker, topic);
  await fresh.ready({ timeout: 120_000 });
  const ms = wallMs() - started;
  await fresh.close();
  return ms;
}

/** Time until a live reader no longer holds the page after the writer invalidated it: how long applying the invalidation takes there. */
async function applyMs(way, entries) {
  const { broker, topic, writer } = await topicAfter(way, entries, 0);
  const reader = open(broker, topic);
  await reader.ready();
  const samples = [];
  for (let i = 0; i < 20; i++) {
    const path = `/products/${i}`;
    const gone = new Promise((resolve) => {
      const listener = (change) => {
        if (change.source === 'remote' && (change.op === 'clear' ? pageKey(i).startsWith(change.key) : change.key === pageKey(i))) {
          reader.off('change', listener);
          resolve(wallMs());
        }
      };
      reader.on('change', listener);
    });
    const started = wallMs();
    if (way === 'helper') await invalidateHttpRoute(writer, path);
    else await Promise.all([writer.clearPrefix(`http:GET ${path} `), writer.clearPrefix(`http:GET ${path}?`)]);
    samples.push((await gone) - started);
  }
  await Promise.all([reader.close(), writer.close()]);
  return median(samples);
}

const results = {};
for (const way of ['helper', 'clears']) {
  const base = [];
  const after = [];
  const base2 = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of roundOrder(r, ['base', 'after', 'base2'])) {
      const { broker, topic, writer } = await topicAfter(way, ENTRIES, side === 'after' ? N : 0);
      await writer.close();
      ({ base, after, base2 })[side].push(await startupMs(broker, topic));
    }
  }
  const small = await applyMs(way, Math.floor(ENTRIES / 10));
  const large = await applyMs(way, ENTRIES);
  const small2 = await applyMs(way, Math.floor(ENTRIES / 10));
  results[way] = {
    startupMs: median(base),
    startupAfterNMs: median(after),
    growth: median(after) / median(base),
    applyMsSmall: small,
    applyMsLarge: large,
    applyGrowth: large / small,
    aa: {
      startupMs: median(base2),
      growth: median(base2) / median(base),
      growthRounds: roundRatios(base2, base),
      applyMsSmall: small2,
      applyGrowth: small2 / small,
    },
  };
  log(
    `invalidate ${way}: start-up ${median(base).toFixed(0)} ms, after ${N} invalidations ${median(after).toFixed(0)} ms (${(median(after) / median(base)).toFixed(2)}x); one invalidation applied in ${small.toFixed(2)} ms at ${ENTRIES / 10} entries, ${large.toFixed(2)} ms at ${ENTRIES}`,
  );
}

const { growth, applyGrowth } = results.helper;
const aa = results.helper.aa;
const checks = [
  check('start-up', growth, '<=', 1.5, noise({ aa: aa.growth, rounds: aa.growthRounds })),
  check('apply', applyGrowth, '<=', 3, noise({ aa: aa.applyGrowth, rounds: [aa.applyGrowth] })),
];
report({
  scenario: 'invalidate',
  title: `start-up after ${N} route invalidations, and one invalidation applied on another instance`,
  method: `${ENTRIES} page entries on the in-process log; a fresh instance until ready() with no invalidation and after ${N} (each page computed again after it), medians of ${ROUNDS} interleaved rounds; the time another live instance takes to see one invalidation, median of 20, at ${ENTRIES / 10} and ${ENTRIES} entries; the invalidation helper against prefix clears; A/A: the start-up without invalidations twice per round, and the apply at ${ENTRIES / 10} entries measured twice, the noise bands of the two ratios`,
  ratio: growth,
  ratioLabel: `start-up after ${N} invalidations / start-up without`,
  measured: `${growth.toFixed(2)}x start-up, ${applyGrowth.toFixed(1)}x apply at 10x entries (prefix clears: ${results.clears.growth.toFixed(2)}x, ${results.clears.applyGrowth.toFixed(1)}x)`,
  target: 'start-up <= 1.5x, apply <= 3x at 10x entries',
  ...verdictFields(checks),
  results,
});

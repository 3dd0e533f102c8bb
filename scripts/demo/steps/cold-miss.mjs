// 1. A cold miss on A, then hits on B and C. Returns the product A loaded.
import { call, entry, readsOf } from '../http.mjs';
import { replicationDelay, report, reportHeader } from '../measure.mjs';
import { waitFor } from '../../lib/shared.mjs';
import { check, demoFailure, formatMs, formatPrice, say, section } from '../output.mjs';

/**
 * @param {import('../types.mjs').Demo} demo
 * @returns {Promise<{ price: number }>} the product A loaded
 */
export async function coldMiss({ instances, log, keys, page, replicationDeadlineMs }) {
  const [A, B, C] = instances;
  section('1. A cold miss on A, then hits on B and C');
  say("   (server: time spent in the instance; round trip: as the demo's HTTP client saw it)");
  reportHeader();
  const readsBefore = await readsOf(instances);
  const first = await call(A, 'GET', page);
  check(first.status === 200, `GET A ${page} answered ${first.status}`);
  check(first.servedFrom === 'data-source', `the first GET on A should load from the data source, it came from ${first.servedFrom}`);
  report('GET', A, page, first, `${first.body.name}, ${formatPrice(first.body.price)}`);

  // A stored the product (@Cached) and its page (the interceptor); wait until B and C hold them.
  await waitFor(async () => (await entry(B, keys.page)).present && (await entry(C, keys.page)).present && (await entry(C, keys.value)).present, {
    timeout: replicationDeadlineMs,
    interval: 5,
    message: `B and C to hold ${keys.page} and ${keys.value}`,
    error: demoFailure,
  });
  const delayB = await replicationDelay(A, B, keys.page);
  const delayC = await replicationDelay(A, C, keys.page);
  say(`   A stored the product (${keys.value}) and its page (${keys.page}); through ${log.mode === 'kafka' ? 'the topic' : 'the in-process log'}:`);
  say(`     B holds the page ${formatMs(delayB).padStart(9)} after A stored it   (replication delay, measured by the instances)`);
  say(`     C holds the page ${formatMs(delayC).padStart(9)} after A stored it`);
  const onB = await call(B, 'GET', page);
  const onC = await call(C, 'GET', page);
  const otherUrl = `${page}?ref=demo`;
  const onCOther = await call(C, 'GET', otherUrl);
  const readsAfter = await readsOf(instances);
  check(
    onB.status === 200 && onB.servedFrom === 'response-cache',
    `GET B ${page} should be a hit from the replicated page, got ${onB.status} ${onB.servedFrom}`,
  );
  check(
    onC.status === 200 && onC.servedFrom === 'response-cache',
    `GET C ${page} should be a hit from the replicated page, got ${onC.status} ${onC.servedFrom}`,
  );
  check(
    onCOther.status === 200 && onCOther.servedFrom === 'value-cache',
    `GET C ${otherUrl} should be a hit from the replicated product, got ${onCOther.status} ${onCOther.servedFrom}`,
  );
  check(
    readsAfter.B === readsBefore.B && readsAfter.C === readsBefore.C,
    `B and C should not have called the data source (B: ${readsAfter.B - readsBefore.B}, C: ${readsAfter.C - readsBefore.C} calls)`,
  );
  for (const response of [onB, onC, onCOther]) check(JSON.stringify(response.body) === JSON.stringify(first.body), 'B and C should serve the product A loaded');
  report('GET', B, page, onB, 'HIT: the page A computed (Nest), no data-source call on B');
  report('GET', C, page, onC, 'HIT: the same page, served by the Express app, no data-source call on C');
  report('GET', C, otherUrl, onCOther, 'HIT: another URL, so no page yet, but the product A loaded (@Cached)');
  return first.body;
}

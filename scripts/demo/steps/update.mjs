// 2. An update on C invalidates the entry everywhere; A reloads it and B and C serve the new page.
// Returns the new price.
import { call, entry, readsOf } from '../http.mjs';
import { invalidationDelay, report, reportHeader } from '../measure.mjs';
import { waitFor } from '../../lib/shared.mjs';
import { check, demoFailure, formatMs, formatPrice, say, section } from '../output.mjs';

/**
 * @param {import('../types.mjs').Demo} demo
 * @param {{ price: number }} product  what the cold miss loaded
 * @returns {Promise<number>} the new price
 */
export async function update({ instances, keys, page, replicationDeadlineMs }, product) {
  const [A, B, C] = instances;
  section('2. An update on C invalidates the entry everywhere');
  reportHeader();
  const newPrice = Math.max(1, product.price - 7);
  const updated = await call(C, 'PUT', page, { price: newPrice });
  check(updated.status === 200 && updated.body.price === newPrice, `PUT C ${page} answered ${updated.status}: ${JSON.stringify(updated.body)}`);
  report(
    'PUT',
    C,
    page,
    updated,
    `price ${formatPrice(product.price)} -> ${formatPrice(newPrice)}: data source updated, then the product and its pages deleted`,
  );
  await waitFor(
    async () => {
      for (const instance of instances) {
        if ((await entry(instance, keys.value)).present || (await entry(instance, keys.page)).present) return false;
      }
      return true;
    },
    { timeout: replicationDeadlineMs, interval: 5, message: `${keys.value} and ${keys.page} to be gone from A, B and C`, error: demoFailure },
  );
  const goneA = await invalidationDelay(C, A, [keys.value, keys.page]);
  const goneB = await invalidationDelay(C, B, [keys.value, keys.page]);
  say(`   C deleted ${keys.value} and ${keys.page} at once; the tombstones removed them`);
  say(`     from A ${formatMs(goneA).padStart(9)} after C deleted them`);
  say(`     from B ${formatMs(goneB).padStart(9)} after C deleted them`);
  const readsBeforeReload = await readsOf(instances);
  const reload = await call(A, 'GET', page);
  check(
    reload.status === 200 && reload.servedFrom === 'data-source',
    `GET A ${page} after the update should load from the data source, got ${reload.status} ${reload.servedFrom}`,
  );
  check(reload.body.price === newPrice, `A should serve the new price ${newPrice}, it served ${reload.body.price}`);
  report('GET', A, page, reload, `MISS: reloaded, new price ${formatPrice(reload.body.price)}`);
  await waitFor(async () => (await entry(B, keys.page)).present && (await entry(C, keys.page)).present, {
    timeout: replicationDeadlineMs,
    interval: 5,
    message: `the reloaded page on B and C`,
    error: demoFailure,
  });
  const newOnB = await call(B, 'GET', page);
  const newOnC = await call(C, 'GET', page);
  const readsAfterReload = await readsOf(instances);
  for (const [instance, response] of /** @type {[import('../types.mjs').Instance, import('../types.mjs').Answer][]} */ ([
    [B, newOnB],
    [C, newOnC],
  ])) {
    check(
      response.status === 200 && response.body.price === newPrice,
      `${instance.name} should serve the new price ${newPrice}, it served ${response.body.price}`,
    );
    check(response.servedFrom === 'response-cache', `${instance.name} should serve the page A reloaded, it came from ${response.servedFrom}`);
  }
  check(
    readsAfterReload.B === readsBeforeReload.B && readsAfterReload.C === readsBeforeReload.C,
    'B and C should not call the data source after A reloaded the product',
  );
  report('GET', B, page, newOnB, `HIT: new price ${formatPrice(newOnB.body.price)}`);
  report('GET', C, page, newOnC, `HIT: new price ${formatPrice(newOnC.body.price)}`);
  return newPrice;
}

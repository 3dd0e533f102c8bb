// 3. B killed (or, in one process, closed) and started again: warm as soon as it is ready.
import { performance } from 'node:perf_hooks';
import { call, stats, waitHealthy } from '../http.mjs';
import { report, reportHeader } from '../measure.mjs';
import { check, formatMs, say, section } from '../output.mjs';

/**
 * @param {import('../types.mjs').Demo} demo
 * @param {number} newPrice  the price B must serve after its restart
 */
export async function restart({ instances, page }, newPrice) {
  const B = instances[1];
  const child = B.isProcess;
  section(child ? '3. B killed (SIGKILL) and restarted: warm after ready()' : '3. B closed and started again: warm after ready()');
  const oldWhere = B.where;
  await B.kill();
  const restartAt = performance.now();
  await B.start();
  const restartHealthy = await waitHealthy(B, restartAt);
  const bStats = await stats(B);
  say(
    child
      ? `   B (${oldWhere}) killed with SIGKILL; started again as pid ${B.pid} on the same port`
      : '   B closed (the three instances share this process: it cannot be killed alone), then started again on the same port',
  );
  say(`   B healthy ${formatMs(restartHealthy)} after its start`);
  say(`     ${child ? 'process start' : 'instance start'} -> listening: ${formatMs(bStats.startup.startToListeningMs)}`);
  say(
    `     of which the cache's bootstrap, created -> ready(): ${formatMs(bStats.startup.cacheReadyMs)}, reading ${bStats.startup.recordsAtReady} records from the topic into ${bStats.startup.entriesAtReady} entries`,
  );
  const warm = await call(B, 'GET', page);
  const bAfter = await stats(B);
  check(warm.status === 200 && warm.servedFrom !== 'data-source', `the first GET on the restarted B should be a hit, it came from ${warm.servedFrom}`);
  check(bAfter.dataSource.reads === 0, `the restarted B should not have called the data source, it did ${bAfter.dataSource.reads} times`);
  check(warm.body.price === newPrice, `the restarted B should serve the new price ${newPrice}, it served ${warm.body.price}`);
  reportHeader();
  report('GET', B, page, warm, `HIT on its first request: warm, 0 data-source calls since the restart`);
}

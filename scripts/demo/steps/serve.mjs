// --serve: the instances keep running after the report, with commands to try.
import path from 'node:path';
import { say, section } from '../output.mjs';

/** @param {import('../types.mjs').Demo} demo */
export async function serve({ instances, log }) {
  const [A, B, C] = instances;
  section('The instances keep running (--serve); Ctrl-C stops them' + (log.mode === 'kafka' && !log.external ? ' and the broker' : ''));
  for (const instance of instances) say(`   ${instance.name}  ${instance.framework === 'nest' ? 'Nest   ' : 'Express'}  ${instance.url}`);
  say('');
  say('   Try (product 77 was not requested yet):');
  say(`   curl -i ${A.url}/products/77               # a miss on A: X-Served-From: data-source, Server-Timing about 50 ms`);
  say(`   curl -i ${B.url}/products/77               # a hit on B: the page A computed (X-Served-From: response-cache)`);
  say(`   curl -i ${C.url}/products/77               # a hit on C: the Express app serves the same page`);
  say(`   curl -i '${C.url}/products/77?lang=fr'     # another URL, no page yet, but the product is cached (value-cache)`);
  say(`   curl -X PUT -H 'content-type: application/json' -d '{"price": 10}' ${C.url}/products/77`);
  say(`   curl -i ${B.url}/products/77               # gone everywhere: a miss, with the new price`);
  say(`   curl ${A.url}/health`);
  say(`   curl ${B.url}/internal/stats              # cache.stats(), data-source calls, hits, misses, latencies`);
  say(`   curl ${C.url}/metrics                     # the cache's OpenTelemetry metrics, Prometheus text format`);
  if (A.isProcess && A.logFile) say(`   logs: ${path.dirname(A.logFile)}/{A,B,C}.log`);
  await new Promise(() => {}); // until Ctrl-C (the signal handler cleans up and exits)
}

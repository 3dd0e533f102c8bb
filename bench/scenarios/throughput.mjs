// 4. Replicated write throughput: sets on A as fast as the replication keeps up, until flush()
// resolves, vs raw kafkajs sends of batches of 1,000 records (acks -1, one request in flight,
// as the cache's producer) read by a raw consumer in process B; then every nearcache instance
// (A and B) must hold every key. A second raw round (raw2) in the same rotation gives the A/A
// comparison behind the noise band.
import { QUICK, check, createRawTopic, fact, log, median, noise, report, roundOrder, roundRatios, startPeer, uniqueTopic, verdictFields } from '../lib.mjs';

const ROUNDS = QUICK ? 2 : 4;
const N = QUICK ? 30_000 : 200_000;
const oursTopic = uniqueTopic('tput-ours');
const rawTopic = uniqueTopic('tput-raw');
await createRawTopic(rawTopic);

const writer = await startPeer('tput-writer');
const follower = await startPeer('tput-follower');
try {
  // Each instance keeps one round's keys (and evicts older rounds'), so every round runs with the
  // same number of entries and heap size, as a cache at its size bound does; an unbounded cache
  // would hold 1M entries by the last round, and its growing heap would slow later rounds.
  const max = N + 25_000;
  await follower.call('openOurs', { topic: oursTopic, max });
  await writer.call('openOurs', { topic: oursTopic, max });
  await writer.call('openProducer');
  // The raw side replicates too: a kafkajs consumer in the follower process reads what A produces.
  await follower.call('openConsumer', { topic: rawTopic });
  for (let w = 0; w < 2; w++) {
    await writer.call('writeBurst', { impl: 'ours', topic: rawTopic, prefix: `warm${w}:`, n: 10_000 });
    await writer.call('writeBurst', { impl: 'raw', topic: rawTopic, prefix: `warm${w}:`, n: 10_000 });
  }
  const rates = { ours: [], raw: [], raw2: [] };
  const convergence = [];
  let converged = true;
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of roundOrder(r, ['ours', 'raw', 'raw2'])) {
      const impl = side === 'ours' ? 'ours' : 'raw';
      const prefix = `r${r}:${side}:`;
      const ms = await writer.call('writeBurst', { impl, topic: rawTopic, prefix, n: N });
      rates[side].push(N / (ms / 1000));
      if (impl === 'ours') {
        const [a, b] = await Promise.all([
          writer.call('converged', { prefix, n: N, timeoutMs: 30_000 }),
          follower.call('converged', { prefix, n: N, timeoutMs: 30_000 }),
        ]);
        convergence.push(b.ms);
        if (!a.ok || !b.ok) converged = false;
      } else {
        // Let the raw consumer finish too, so it does not eat into the next round.
        for (let t = 0; t < 300; t++) {
          const seen = await follower.call('count', { prefix, n: N });
          if (seen === N) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }
  const ours = median(rates.ours),
    raw = median(rates.raw);
  const ratio = ours / raw;
  const band = noise({ aa: median(rates.raw2) / raw, rounds: roundRatios(rates.raw2, rates.raw) });
  const checks = [check('', ratio, '>=', 0.7, band), fact('converged', converged)];
  log(`throughput: raw ${raw.toFixed(0)}/s, ours ${ours.toFixed(0)}/s, ratio ${ratio.toFixed(2)}, converged ${converged}`);
  report({
    scenario: 'throughput',
    title: 'replicated write throughput vs raw kafkajs batched produce',
    method: `${ROUNDS} interleaved rounds of ${N} distinct keys; ours = ${N} / (first set .. flush() resolved), each instance bounded to max ${N + 25_000} entries (a round's keys, older rounds' evicted); raw = sequential kafkajs sends of 1,000 records, acks -1, while a kafkajs consumer in the follower process reads them; after each of our rounds both instances must hold every key; A/A: a second raw round (raw2) in the same rotation, the noise band of the ratio`,
    ratio,
    ratioLabel: 'ours/raw writes per second',
    measured: `${ratio.toFixed(2)}x`,
    target: '>= 0.7, converged',
    ...verdictFields(checks),
    raw: { writesPerSec: raw, rounds: rates.raw },
    aa: { ratio: band.aa, raw2: { writesPerSec: median(rates.raw2), rounds: rates.raw2 } },
    ours: { writesPerSec: ours, rounds: rates.ours, converged, convergenceAfterFlushMs: convergence },
  });
} finally {
  await Promise.allSettled([writer.stop(), follower.stop()]);
}

// Starts the three instances and waits until each is healthy (its cache caught up with the topic).
import { performance } from 'node:perf_hooks';
import { waitHealthy } from '../http.mjs';
import { formatMs, say } from '../output.mjs';

/** @param {import('../types.mjs').Demo} demo */
export async function startInstances({ instances, label }) {
  say('Starting three instances of the catalogue service (apps/example), listening on 127.0.0.1:');
  const startedAt = performance.now();
  /** @type {number[]} */
  const healthy = [];
  const waiting = setInterval(() => {
    /** @type {Map<string, string[]>} */
    const reasons = new Map();
    instances.forEach((instance, index) => {
      if (healthy[index] !== undefined) return;
      const reason = instance.lastHealth ?? 'starting';
      reasons.set(reason, [...(reasons.get(reason) ?? []), instance.name]);
    });
    const why = [...reasons].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ');
    say(`  still waiting (${Math.round((performance.now() - startedAt) / 1000)} s) for ${why}`);
  }, 10_000);
  try {
    await Promise.all(instances.map((i) => i.start()));
    await Promise.all(instances.map(async (i, index) => (healthy[index] = await waitHealthy(i, startedAt))));
  } finally {
    clearInterval(waiting);
  }
  instances.forEach((instance, index) => say(`  ${label(instance)}  ${instance.url}  ${instance.where}, healthy after ${formatMs(healthy[index])}`));
}

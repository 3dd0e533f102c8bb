import { describe, it } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, silentLogger, type NearCache } from '@nearcache/core';
import { chaos, type ChaosLog } from '../helpers/chaos.js';
import { commandArbitrary, fc, runScenario, type Command } from '../helpers/property.js';

// Property-based convergence on the in-process log: random interleavings of set, delete, clear,
// TTL, consumer restarts from offset 0 and session tokens across three instances (see
// test/helpers/property.ts).
// About 30 s of CPU: it runs with the fault tests, not in `npm test`.
// Counterexamples found once, run first every time: [commands, partitions].
const EXAMPLES: Array<[Command[], number]> = [
  // The correction of a stale load restated a tagged value that an invalidation of its tag,
  // between the load and the correction, had removed: its writer applied it, the others did not.
  [
    [
      { kind: 'load', who: 1, key: 'b1', turns: 0, tags: 'none' },
      { kind: 'set', who: 0, key: 'b1', ttl: 'none', tags: 'xy' },
      { kind: 'invalidate', who: 2, tag: 'x' },
      { kind: 'session', from: 0, to: 0, key: 'a0' },
      { kind: 'replay', who: 0 },
    ],
    1,
  ],
];

describe('property: three instances converge, read their writes, never travel back in time', () => {
  it('1000 random interleavings on the in-process log', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(commandArbitrary({ instances: 3, replay: true }), fc.integer({ min: 1, max: 3 }), async (commands, partitions) => {
        runs++;
        const broker = new InProcessBroker();
        const topic = `property-${runs}`;
        broker.createTopic(topic, { partitions });
        const logs: ChaosLog[] = [];
        const caches: Array<NearCache<unknown>> = [];
        for (let i = 0; i < 3; i++) {
          const factory = chaos(inProcessLog(broker));
          caches.push(createNearCache({ topic, log: factory, logger: silentLogger, closeTimeout: 1000 }));
          logs.push(factory.last!);
        }
        try {
          await Promise.all(caches.map((c) => c.ready({ timeout: 5000 })));
          await runScenario(
            {
              caches,
              ns: '',
              records: async () => broker.records(topic),
              replay: (who) => logs[who]!.replayFromZero(),
              hold: (who) => {
                logs[who]!.hold();
                return () => logs[who]!.release();
              },
              convergeTimeout: 5000,
              checkInterval: 1,
            },
            commands,
          );
        } finally {
          await Promise.all(caches.map((c) => c.close()));
        }
      }),
      { numRuns: 1000, examples: EXAMPLES },
    );
  }, 240_000);
});

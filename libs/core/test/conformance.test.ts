import { describe, expect, it } from 'vitest';
import { describeReplicationLogContract, type ContractFramework, type ReplicationLogHarness } from '@nearcache/core/conformance';

/** A framework that records what the suite registers, without running it. */
function recordingFramework(): ContractFramework & { names: string[]; hooks: string[]; timeouts: Array<number | undefined> } {
  const path: string[] = [];
  const framework = {
    names: [] as string[],
    hooks: [] as string[],
    timeouts: [] as Array<number | undefined>,
    describe(name: string, body: () => void) {
      path.push(name);
      body();
      path.pop();
    },
    it(name: string, _body: () => Promise<void>, timeout?: number) {
      framework.names.push([...path, name].join(' > '));
      framework.timeouts.push(timeout);
    },
    beforeAll: () => void framework.hooks.push('beforeAll'),
    afterEach: () => void framework.hooks.push('afterEach'),
    afterAll: () => void framework.hooks.push('afterAll'),
    expect: expect as unknown as ContractFramework['expect'],
  };
  return framework;
}

const harness = (): ReplicationLogHarness => {
  throw new Error('not built while registering');
};

describe('the exported contract suite', () => {
  it('registers every section but 7 by default, under the given name, with the framework given', () => {
    const framework = recordingFramework();
    describeReplicationLogContract('my log', harness, { framework });
    const sections = new Set(framework.names.map((name) => name.split(' > ')[1]!.split('.')[0]));
    expect([...sections].map(Number)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 10]);
    expect(framework.names.every((name) => name.startsWith('my log > '))).toBe(true);
    expect(framework.names).toContain('my log > 3. convergence > random writes from three instances converge to the log (3 partitions)');
    expect(framework.hooks).toEqual(['beforeAll', 'afterEach', 'afterAll']);
    expect(new Set(framework.timeouts)).toEqual(new Set([undefined]));
  });

  it('registers only the sections asked for, with the timeout asked for', () => {
    const framework = recordingFramework();
    describeReplicationLogContract('my log', harness, { framework, sections: [7, 10], timeout: 90_000 });
    expect(framework.names).toEqual([
      'my log > 7. writes never hang > applies and queues writes while the log is down, rejects durable ones at their deadline, drains on recovery',
      'my log > 10. clean close > close() leaves nothing running: the process exits on its own',
    ]);
    expect(framework.timeouts).toEqual([90_000, 90_000]);
  });

  it('says what to pass when no framework is given and none is global', () => {
    expect(() => describeReplicationLogContract('my log', harness)).toThrow(
      expect.objectContaining({ code: 'NC_INVALID_ARGUMENT', message: expect.stringContaining('pass options.framework = { describe, it, expect') }),
    );
  });
});

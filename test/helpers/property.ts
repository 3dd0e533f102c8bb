import fc from 'fast-check';
import { parseSessionToken, type LogRecord, type NearCache } from '@nearcache/core';
import { diff, foldTopic } from './oracle.js';
import { recordMeta } from './records.js';
import { waitFor } from './wait.js';

export { fc };

/**
 * Property-based convergence: random interleavings of set, delete, clear, TTL, tags, tag
 * invalidations and fenced loads (`wrap` with a loader that ends some turns later, while other
 * commands run; some across the fleet, with `fleetWait`: their claims go through the log) across three
 * instances, checked for read-your-writes (after every call), no time travel (what an instance
 * shows for a key, as remote records arrive, only moves forward in log order), session
 * read-your-writes (an instance that caught up to another's session token shows, for a key, the
 * last record of it the token covers or a later one) and convergence (with writes stopped, every
 * instance equals a fresh reader folding the topic, fenced records included).
 */
export type Command =
  | { kind: 'set'; who: number; key: string; ttl: 'none' | 'expired' | 'long'; tags?: TagChoice }
  | { kind: 'load'; who: number; key: string; turns: number; tags?: TagChoice; fleet?: boolean }
  | { kind: 'invalidate'; who: number; tag: 'x' | 'y' }
  | { kind: 'delete'; who: number; key: string }
  | { kind: 'clear'; who: number; prefix: string }
  | { kind: 'settle'; turns: number }
  | { kind: 'replay'; who: number }
  | { kind: 'session'; from: number; to: number; key: string };

const KEYS = ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c'];
const PREFIXES = ['', 'a', 'b', 'a1'];
/** The tags a set or load gives its value (prefixed with the run's namespace). */
type TagChoice = 'none' | 'x' | 'y' | 'xy';
const TAGS: Record<TagChoice, string[]> = { none: [], x: ['x'], y: ['y'], xy: ['x', 'y'] };

export function commandArbitrary(options: { instances: number; replay: boolean }): fc.Arbitrary<Command[]> {
  const who = fc.integer({ min: 0, max: options.instances - 1 });
  const key = fc.constantFrom(...KEYS);
  const tags = fc.constantFrom<TagChoice>('none', 'none', 'x', 'y', 'xy');
  const arbitraries: Array<fc.Arbitrary<Command>> = [
    fc.record({
      kind: fc.constant('set' as const),
      who,
      key,
      ttl: fc.constantFrom('none' as const, 'none' as const, 'expired' as const, 'long' as const),
      tags,
    }),
    fc.record({ kind: fc.constant('delete' as const), who, key }),
    fc.record({ kind: fc.constant('clear' as const), who, prefix: fc.constantFrom(...PREFIXES) }),
    fc.record({ kind: fc.constant('settle' as const), turns: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ kind: fc.constant('load' as const), who, key, turns: fc.integer({ min: 0, max: 8 }), tags, fleet: fc.boolean() }),
  ];
  const weighted: Array<fc.WeightedArbitrary<Command>> = [
    { arbitrary: arbitraries[0]!, weight: 6 },
    { arbitrary: arbitraries[1]!, weight: 2 },
    { arbitrary: arbitraries[2]!, weight: 1 },
    { arbitrary: arbitraries[3]!, weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('session' as const), from: who, to: who, key }), weight: 2 },
    { arbitrary: arbitraries[4]!, weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('invalidate' as const), who, tag: fc.constantFrom('x' as const, 'y' as const) }), weight: 2 },
  ];
  if (options.replay) weighted.push({ arbitrary: fc.record({ kind: fc.constant('replay' as const), who }), weight: 1 });
  return fc.array(fc.oneof(...weighted), { minLength: 1, maxLength: 30 });
}

export interface ScenarioEnv {
  caches: Array<NearCache<unknown>>;
  /** Prefix of every key of this run (several runs may share a topic). */
  ns: string;
  /** Every record of the topic now, as a fresh reader sees it. */
  records(): Promise<LogRecord[]>;
  /** Holds back the batches instance `who`'s consumer delivers; returns the release. */
  hold?(who: number): () => void;
  /** Restarts instance `who`'s consumer from offset 0 (as kafkajs does after a group rebuild). */
  replay?(who: number): Promise<void>;
  /** Timeout of the convergence wait, in ms. */
  convergeTimeout: number;
  /** How often convergence is checked, in ms. Default 10. */
  checkInterval?: number;
}

interface Value {
  id: string;
}

let sequence = 0;

const TTL = { none: undefined, expired: 1, long: 3_600_000 } as const;
/** The wait of a load across the fleet, in ms: short, so that a round that never ends costs a run little. */
const FLEET_WAIT = 1000;

/** Runs `commands` on `env` and checks the three properties; throws on the first violation. */
export async function runScenario(env: ScenarioEnv, commands: Command[]): Promise<void> {
  const { caches, ns } = env;
  const sessions: SessionRead[] = [];
  const observed = caches.map(() => new Map<string, string[]>());
  const listeners = caches.map((cache, i) => {
    const listener = (change: { op: string; key: string; source: string }): void => {
      if (change.source !== 'remote' || change.op !== 'set' || !change.key.startsWith(ns)) return;
      const value = cache.get(change.key) as Value | undefined;
      if (value === undefined) return;
      const seen = observed[i]!.get(change.key) ?? [];
      seen.push(value.id);
      observed[i]!.set(change.key, seen);
    };
    cache.on('change', listener);
    return listener;
  });
  const loads: Array<Promise<unknown>> = [];
  /** The tags each value was written with, by value id. */
  const tagsOf = new Map<string, string[]>();
  const tagged = (id: string, choice: TagChoice | undefined): { tags: string[] } | undefined => {
    const tags = TAGS[choice ?? 'none'].map((tag) => ns + tag);
    tagsOf.set(id, tags);
    return tags.length === 0 ? undefined : { tags };
  };
  try {
    for (const command of commands) {
      switch (command.kind) {
        case 'load': {
          const value: Value = { id: `${ns}${command.who}.${++sequence}` };
          const loader = async (): Promise<Value> => {
            for (let i = 0; i < command.turns; i++) await new Promise((resolve) => setImmediate(resolve));
            return value;
          };
          const options = tagged(value.id, command.tags);
          // Across the fleet: a bounded wait for another instance's load of the key (docs/consistency.md, section 18).
          loads.push(caches[command.who]!.wrap(ns + command.key, loader, command.fleet ? { ...options, fleetWait: FLEET_WAIT } : options));
          break;
        }
        case 'set': {
          const cache = caches[command.who]!;
          const key = ns + command.key;
          const value: Value = { id: `${ns}${command.who}.${++sequence}` };
          const ttl = TTL[command.ttl];
          const options = { ...(ttl === undefined ? {} : { ttl }), ...tagged(value.id, command.tags) };
          await cache.set(key, value, options);
          if (command.ttl !== 'expired') expectEqual(cache.get(key), value, `read-your-writes: instance ${command.who} get(${key}) after set`);
          break;
        }
        case 'delete': {
          const cache = caches[command.who]!;
          await cache.delete(ns + command.key);
          expectEqual(cache.get(ns + command.key), undefined, `read-your-writes: instance ${command.who} get(${ns + command.key}) after delete`);
          break;
        }
        case 'clear': {
          const cache = caches[command.who]!;
          await cache.clearPrefix(ns + command.prefix);
          const left = [...cache.keys()].filter((k) => k.startsWith(ns + command.prefix));
          expectEqual(left, [], `read-your-writes: instance ${command.who} keys under "${ns + command.prefix}" after clearPrefix`);
          break;
        }
        case 'invalidate': {
          const cache = caches[command.who]!;
          const tag = ns + command.tag;
          await cache.invalidateTags([tag]);
          const left = [...cache.entries()].filter(([key, value]) => key.startsWith(ns) && tagsOf.get((value as Value).id)?.includes(tag));
          expectEqual(
            left.map(([key]) => key),
            [],
            `read-your-writes: instance ${command.who} entries tagged "${tag}" after invalidateTags`,
          );
          break;
        }
        case 'settle':
          for (let i = 0; i < command.turns; i++) await new Promise((resolve) => setImmediate(resolve));
          break;
        case 'replay':
          await env.replay!(command.who);
          break;
        case 'session': {
          // The reader is held back while the writer writes and takes its token: it has to catch up.
          const release = env.hold?.(command.to);
          const key = ns + command.key;
          try {
            await caches[command.from]!.set(key, { id: `${ns}${command.from}.${++sequence}` } satisfies Value);
          } catch (error) {
            release?.();
            throw error;
          }
          const token = await caches[command.from]!.sessionToken();
          const reader = caches[command.to]!;
          const caughtUp = reader.catchUpTo(token, { timeout: env.convergeTimeout });
          if (release) setImmediate(release);
          await caughtUp;
          if (!reader.isCaughtUpTo(token)) throw new Error(`session: instance ${command.to} resolved catchUpTo(${token}) before reaching it`);
          const shown = reader.get(key, { after: token }) as Value | undefined;
          sessions.push({ from: command.from, to: command.to, key, token, shown: shown?.id });
          break;
        }
      }
    }
    await Promise.all(loads);
    await Promise.all(caches.map((c) => c.flush()));
    let records = await env.records();
    const inRun = (key: string) => key.startsWith(ns);
    // Folded again at each check: entries with a TTL leave the oracle as they expire.
    const oracle = () => new Map([...foldTopic(records)].filter(([key]) => inRun(key)));
    const mine = (cache: NearCache<unknown>) => new Map([...cache.entries()].filter(([key]) => inRun(key)));
    const converged = () => {
      const expected = oracle();
      return caches.every((cache) => diff(mine(cache), expected).length === 0);
    };
    await waitFor(
      async () => {
        if (converged()) return true;
        // The writer of a stale load appends its correction when it reads the load back, after the flush above.
        records = await env.records();
        return converged();
      },
      {
        timeout: env.convergeTimeout,
        interval: env.checkInterval ?? 10,
        message: () => `convergence: ${caches.map((c, i) => `instance ${i}: ${diff(mine(c), oracle()).join(', ') || 'ok'}`).join('; ')}`,
      },
    );

    // No time travel: the values an instance showed for a key, as remote records arrived, appear in that order in the log.
    // A value can sit in the log more than once (the correction of a stale load restates it): each shown value is matched
    // with its first record after the previous one's.
    const positions = new Map<string, number[]>();
    // Read again: corrections of stale loads are appended as their writers read them back, after the flush above.
    (await env.records())
      .slice()
      .sort((a, b) => a.partition - b.partition || a.offset - b.offset)
      .forEach((record, index) => {
        const meta = recordMeta(record);
        if (meta?.op !== 's' || meta.payload === null) return;
        try {
          const value = JSON.parse(Buffer.from(meta.payload).toString('utf8')) as Value;
          if (value && typeof value.id === 'string') positions.set(value.id, [...(positions.get(value.id) ?? []), index]);
        } catch {
          // not this test's value
        }
      });
    checkSessions(sessions, records);
    observed.forEach((byKey, i) => {
      for (const [key, ids] of byKey) {
        let previous = -1;
        for (let j = 0; j < ids.length; j++) {
          const at = (positions.get(ids[j]!) ?? []).find((p) => p > previous);
          if (at === undefined)
            throw new Error(`time travel: instance ${i} showed ${key} = ${ids[j]} after ${ids[j - 1] ?? 'nothing'} (log position ${previous} then none later)`);
          previous = at;
        }
      }
    });
  } finally {
    caches.forEach((cache, i) => cache.off('change', listeners[i]!));
  }
}

/** A read made with a session token, after `catchUpTo` it. */
interface SessionRead {
  from: number;
  to: number;
  key: string;
  token: string;
  /** The id of the value shown, or undefined. */
  shown: string | undefined;
}

/**
 * Session read-your-writes, checked against the log: the last plain record affecting the key (a
 * set or delete of it, a clear of a prefix of it, an invalidation of a tag its last set before it
 * carries) that the token covers is what the reader shows,
 * or a later record of the key is; a live value without expiry that nothing followed is never missing.
 */
function checkSessions(sessions: SessionRead[], records: LogRecord[]): void {
  for (const read of sessions) {
    const positions = parseSessionToken(read.token).positions;
    const affecting = records
      .filter((record) => {
        const meta = recordMeta(record);
        if (meta?.op === 'c') return read.key.startsWith(Buffer.from(meta.payload ?? new Uint8Array()).toString('utf8'));
        if (meta?.op === 't') return coversKey(record, read.key, records);
        return record.key !== null && Buffer.from(record.key).toString('utf8') === read.key;
      })
      .sort((a, b) => a.offset - b.offset);
    const partition = affecting.find((r) => recordMeta(r)?.op !== 'c')?.partition;
    if (partition === undefined) continue;
    const onPartition = affecting.filter((r) => r.partition === partition);
    const covered = positions.find((p) => p.partition === partition)?.position ?? 0;
    // A fenced record (a load, or the correction of a stale one) may be refused by the fence
    // rule: what the token guarantees stands on the plain records it covers.
    const guaranteed = onPartition.filter((r) => r.offset < covered && recordMeta(r)?.fence === undefined).at(-1);
    if (guaranteed === undefined) continue;
    const idOf = (record: LogRecord): string | undefined => {
      const meta = recordMeta(record);
      if (meta?.op !== 's' || !meta.payload) return undefined;
      try {
        return (JSON.parse(Buffer.from(meta.payload).toString('utf8')) as Value).id;
      } catch {
        return undefined;
      }
    };
    const where = `session: instance ${read.to} after catchUpTo(${read.token}) of instance ${read.from} showed ${read.key} = ${String(read.shown)}`;
    if (read.shown !== undefined) {
      const shownAt = onPartition.find((r) => idOf(r) === read.shown);
      if (shownAt !== undefined && shownAt.offset < guaranteed.offset)
        throw new Error(`${where}, older than offset ${guaranteed.offset}, which the token covers`);
    } else {
      const meta = recordMeta(guaranteed);
      const later = onPartition.some((r) => r.offset > guaranteed.offset);
      if (meta?.op === 's' && meta.exp === '0' && !later) throw new Error(`${where}: the token covers the live value at offset ${guaranteed.offset}`);
    }
  }
}

/** Whether the tag invalidation `record` removes `key`: the last set or delete of the key before it, on its partition, is a set carrying the tag. */
function coversKey(record: LogRecord, key: string, records: LogRecord[]): boolean {
  const tag = Buffer.from(recordMeta(record)?.payload ?? new Uint8Array()).toString('utf8');
  const before = records
    .filter((r) => r.partition === record.partition && r.offset < record.offset && r.key !== null && Buffer.from(r.key).toString('utf8') === key)
    .sort((a, b) => a.offset - b.offset)
    .at(-1);
  const meta = before === undefined ? undefined : recordMeta(before);
  return meta?.op === 's' && (meta.tags ?? '').split('\n').includes(tag);
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

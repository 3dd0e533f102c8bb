import { schedule, type Clock } from '../clock.js';
import { InvalidArgumentError } from '../errors.js';
import type { ParsedClaim } from '../record.js';
import type { Graced } from './local-store.js';
import type { SingleFlight } from './single-flight.js';
import type { FillOptions, WrapOptions } from './types.js';

/**
 * Fleet-wide single flight (docs/consistency.md, section 18). On a miss, an instance appends a
 * claim of the key to the log and waits for it to come back. Log order decides: the first live
 * claim since the key's last record opens a *round* and its claimer loads (a fenced load, as
 * every `wrap`); the instances whose claims come after it wait for the key's next record, then
 * answer with what it left here. The wait is bounded: at its deadline a waiter loads itself. The
 * loader's instance appends a release when its load ends, so that a failed load lets the others
 * load at once, and so that compaction ends up removing the key's claims.
 *
 * Every instance follows the rounds of every key from the claims it reads (another instance's
 * claim may come back before this one's miss): that state exists only while claims are read.
 */

/** The largest wait, in ms (setTimeout's limit). */
const MAX_WAIT = 2_147_483_647;
/** Rounds remembered at most; past it, lapsed rounds are swept, then the oldest dropped (its waiters load at their deadline). */
const MAX_ROUNDS = 16_384;

/** Throws `InvalidArgumentError` unless `wait` is an integer number of ms from 0 (off) to MAX_WAIT. */
export function checkFleetWait(wait: unknown, name = 'fleetWait'): number {
  if (typeof wait !== 'number' || !Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT) {
    throw new InvalidArgumentError(
      `${name} must be an integer number of ms from 0 (off: every instance loads on its own) to ${MAX_WAIT}: how long a miss waits for another instance's load, got ${String(wait)}`,
    );
  }
  return wait;
}

/** What the applier tells the fleet rounds (see apply.ts); `active` is false while no claim is followed, and nothing else is called then but `claimed`. */
export interface FleetRounds {
  readonly active: boolean;
  /** A claim or release read from the log (`own`: this instance's). */
  claimed(claim: ParsedClaim, own: boolean): void;
  /** A set or delete of `key` read from the log. */
  settled(key: string): void;
  /** A clear of `prefix` read from the log on `partition`. */
  cleared(prefix: string, partition: number): void;
}

export interface FleetFlightParts<V> {
  loads: SingleFlight<V>;
  clock: Clock;
  /** This instance's origin: its own claims come back with it. */
  origin: string;
  /** The cache-wide default wait (the `fleetWait` option); 0: off. */
  fleetWait: number;
  /** Whether a fleet-wide load of `key` can be run here now: the cache is live and keeps the key's values. */
  eligible(key: string): boolean;
  /** Appends a claim of `key` lapsing at `deadline`, or its release; returns its write id. Throws when it cannot be queued. */
  claim(key: string, deadline: number, release: boolean): number;
  /** The key's value here, once a waiter wakes (not counted as a hit or a miss). */
  peek(key: string): V | undefined;
  /** The partition of `key`, and how many there are. */
  partitionOf(key: string): number;
  partitions(): number;
}

/** The first live claim of a key since its last record: its claimer loads. */
interface Round {
  origin: string;
  writeId: number;
  deadline: number;
}

type Outcome = 'win' | 'settled' | 'released' | 'lapsed';

/**
 * The turn of code that runs its own loads (`NearCache.fleetTurn`): `value` is the key's value
 * loaded by another instance, or undefined when the caller is to load. Call `done()` once the
 * load ended (its value cached or not): when this instance's claim won, that appends the release.
 */
export interface FleetTurn<V> {
  readonly value: V | undefined;
  done(): void;
}

const NOTHING_TO_RELEASE = (): void => undefined;

/** A fleet-wide load of one key by this instance. */
interface Flight {
  /** `wrap`'s (its promise is the value, shared by concurrent calls) or a caller's turn (not shared). */
  kind: 'wrap' | 'turn';
  writeId: number;
  /** `claimed`: the claim has not come back; `waiting`: it came back after another's; `done`: woken. */
  phase: 'claimed' | 'waiting' | 'done';
  wake(outcome: Outcome): void;
  promise: Promise<unknown>;
}

export class FleetFlight<V> implements FleetRounds {
  readonly #p: FleetFlightParts<V>;
  readonly #rounds = new Map<string, Round>();
  readonly #flights = new Map<string, Flight>();

  constructor(parts: FleetFlightParts<V>) {
    this.#p = parts;
  }

  get active(): boolean {
    return this.#rounds.size !== 0 || this.#flights.size !== 0;
  }

  /** `SingleFlight.load`, across the fleet when the call's `fleetWait` (or the cache's) is set. */
  load<T extends V>(key: string, loader: () => T | Promise<T>, options: WrapOptions | undefined): Promise<T> {
    const wait = options?.fleetWait ?? this.#p.fleetWait;
    if (wait === 0) return this.#p.loads.load(key, loader, options);
    return this.#fly(key, loader, options, wait);
  }

  /** `SingleFlight.guarded`, across the fleet the same way: grace and loader timeouts also bound the wait for another instance. */
  guarded<T extends V>(key: string, loader: () => T | Promise<T>, options: WrapOptions, stale: Graced | undefined): Promise<T> {
    const wait = options.fleetWait ?? this.#p.fleetWait;
    if (wait === 0) return this.#p.loads.guarded(key, loader, options, stale);
    return this.#p.loads.guard(key, this.#fly(key, loader, options, wait), options, stale);
  }

  /**
   * For code that runs its own loads: undefined when the option is off for the call (or the fleet
   * cannot be asked: load as usual); else its turn, once its claim won, another instance's value
   * came, or the wait ended.
   */
  turn(key: string, fleetWait: number | undefined): Promise<FleetTurn<V>> | undefined {
    const wait = fleetWait ?? this.#p.fleetWait;
    if (wait === 0 || this.#flights.has(key) || this.#p.loads.running(key)) return undefined;
    const flight = this.#claim(key, wait, 'turn');
    if (flight === undefined) return undefined;
    const promise = (flight.promise as Promise<Outcome>).then((outcome): FleetTurn<V> => {
      const held = outcome === 'win' || outcome === 'settled' ? this.#p.peek(key) : undefined;
      if (outcome !== 'win') return { value: held, done: NOTHING_TO_RELEASE };
      if (held !== undefined) this.#release(key);
      return { value: held, done: held === undefined ? () => this.#release(key) : NOTHING_TO_RELEASE };
    });
    return promise;
  }

  #fly<T extends V>(key: string, loader: () => T | Promise<T>, options: FillOptions | undefined, wait: number): Promise<T> {
    const p = this.#p;
    const running = this.#flights.get(key);
    if (running !== undefined && running.kind === 'wrap') return running.promise as Promise<T>;
    // A load of the key already runs here, or the fleet cannot be asked: load as without the option.
    const flight = running === undefined && !p.loads.running(key) ? this.#claim(key, wait, 'wrap') : undefined;
    if (flight === undefined) return p.loads.load(key, loader, options);
    const promise = (flight.promise as Promise<Outcome>).then((outcome) => this.#after(key, outcome, loader, options));
    flight.promise = promise;
    return promise;
  }

  /** Appends a claim of `key` and follows it; its promise resolves with how the wait ended. Undefined when no claim can be made. */
  #claim(key: string, wait: number, kind: Flight['kind']): Flight | undefined {
    const p = this.#p;
    if (!p.eligible(key)) return undefined;
    let writeId: number;
    try {
      writeId = p.claim(key, p.clock.now() + wait, false);
    } catch {
      return undefined;
    }
    let wake!: (outcome: Outcome) => void;
    const woken = new Promise<Outcome>((resolve) => (wake = resolve));
    const flight: Flight = {
      kind,
      writeId,
      phase: 'claimed',
      wake: (outcome) => {
        if (flight.phase === 'done') return;
        flight.phase = 'done';
        cancel();
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        wake(outcome);
      },
      promise: woken,
    };
    const cancel = schedule(p.clock, () => flight.wake('lapsed'), wait);
    this.#flights.set(key, flight);
    return flight;
  }

  /** What a flight does once woken. */
  async #after<T extends V>(key: string, outcome: Outcome, loader: () => T | Promise<T>, options: FillOptions | undefined): Promise<T> {
    const p = this.#p;
    if (outcome === 'win') {
      try {
        // The key's value may have come in between the miss and the claim: nothing to load then.
        const held = p.peek(key);
        if (held !== undefined) return held as T;
        return await p.loads.load(key, loader, options);
      } finally {
        this.#release(key);
      }
    }
    if (outcome === 'settled') {
      const held = p.peek(key);
      if (held !== undefined) return held as T;
    }
    // The round ended without a value this instance holds, or the wait lapsed: load here.
    return p.loads.load(key, loader, options);
  }

  #release(key: string): void {
    try {
      this.#p.claim(key, 0, true);
    } catch {
      // Closing, or the queue is full: the round lapses at its deadline on the other instances.
    }
  }

  /** The cache is closing: every wait ends now (its caller loads, uncached), so that no timer is left behind. */
  closed(): void {
    for (const flight of [...this.#flights.values()]) flight.wake('lapsed');
    this.#rounds.clear();
  }

  claimed(claim: ParsedClaim, own: boolean): void {
    const key = claim.key;
    const rounds = this.#rounds;
    let round = rounds.get(key);
    if (claim.release) {
      // The claimer's load ended: its round is over (a release of a round that lapsed changes nothing).
      if (round !== undefined && round.origin === claim.origin) {
        rounds.delete(key);
        this.#wakeWaiter(key, 'released');
      }
      return;
    }
    const now = this.#p.clock.now();
    // A lapsed round, or one of an earlier claim of this instance (it is no longer loading), is over.
    if (round !== undefined && (round.deadline <= now || (round.origin === claim.origin && round.writeId !== claim.writeId))) {
      rounds.delete(key);
      round = undefined;
    }
    if (round === undefined && claim.deadline > now) {
      round = { origin: claim.origin, writeId: claim.writeId, deadline: claim.deadline };
      if (rounds.size >= MAX_ROUNDS) this.#sweep(now);
      rounds.set(key, round);
    }
    if (!own) return;
    const flight = this.#flights.get(key);
    if (flight === undefined || flight.writeId !== claim.writeId || flight.phase !== 'claimed') return;
    if (round !== undefined && round.origin === claim.origin && round.writeId === claim.writeId) flight.wake('win');
    // The key got a value since the miss (an instance that read behind the log cleaner may not
    // have seen the claims of the round that loaded it): nothing to wait for.
    else if (this.#p.peek(key) !== undefined) flight.wake('settled');
    else flight.phase = 'waiting';
  }

  settled(key: string): void {
    if (this.#rounds.delete(key)) this.#wakeWaiter(key, 'settled');
  }

  cleared(prefix: string, partition: number): void {
    const p = this.#p;
    const several = p.partitions() > 1;
    for (const key of [...this.#rounds.keys()]) {
      if (key.startsWith(prefix) && (!several || p.partitionOf(key) === partition)) this.settled(key);
    }
  }

  #wakeWaiter(key: string, outcome: Outcome): void {
    const flight = this.#flights.get(key);
    if (flight !== undefined && flight.phase === 'waiting') flight.wake(outcome);
  }

  #sweep(now: number): void {
    const rounds = this.#rounds;
    for (const [key, round] of rounds) if (round.deadline <= now) rounds.delete(key);
    if (rounds.size >= MAX_ROUNDS) rounds.delete(rounds.keys().next().value!);
  }
}

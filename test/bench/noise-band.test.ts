// The benchmark's noise bands and verdicts (bench/lib.mjs): a figure whose band straddles its
// target reads "within noise", never PASS or MISS.
import { describe, expect, it } from 'vitest';
import { check, fact, noise, roundOrder, roundRatios, verdictOf } from '../../bench/lib.mjs';

describe('noise band', () => {
  it('is empty when the A/A comparison shows no difference', () => {
    const n = noise({ aa: 1, rounds: [1, 1, 1] });
    expect(n.half).toBe(0);
    expect(n.band(0.95)).toEqual([0.95, 0.95]);
    expect(check('', 0.95, '>=', 0.9, n).verdict).toBe('PASS');
    expect(check('', 0.85, '>=', 0.9, n).verdict).toBe('MISS');
  });

  it("is at least the A/A figure's distance from 1, as a factor", () => {
    const n = noise({ aa: 1.1, rounds: [1.1, 1.1, 1.1] });
    const [lo, hi] = n.band(1);
    expect(lo).toBeCloseTo(1 / 1.1, 10);
    expect(hi).toBeCloseTo(1.1, 10);
    // The same factor whichever way the A/A figure strays.
    expect(noise({ aa: 1 / 1.1, rounds: [1 / 1.1] }).half).toBeCloseTo(n.half, 10);
  });

  it('widens with the spread of the A/A rounds even when their median reads 1', () => {
    const rounds = [0.8, 1, 1.25, 1, 0.8, 1.25, 1];
    const n = noise({ aa: 1, rounds });
    const logs = rounds.map(Math.log);
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (logs.length - 1));
    expect(n.half).toBeCloseTo((2 * Math.sqrt(Math.PI / 2) * sd) / Math.sqrt(rounds.length), 10);
    expect(n.half).toBeGreaterThan(0);
  });

  it('reads "within noise" when the band straddles the target, on either side of it', () => {
    const n = noise({ aa: 1.1, rounds: [1.1] });
    expect(check('', 0.95, '>=', 0.9, n).verdict).toBe('within noise');
    expect(check('', 0.85, '>=', 0.9, n).verdict).toBe('within noise');
    expect(check('', 1.05, '<=', 1, n).verdict).toBe('within noise');
    expect(check('', 0.95, '<=', 1, n).verdict).toBe('within noise');
    expect(check('', 1.25, '<=', 1, n).verdict).toBe('MISS');
    expect(check('', 0.85, '<=', 1, n).verdict).toBe('PASS');
  });

  it('is additive for a difference, in its unit', () => {
    const n = noise({ kind: 'delta', unit: 'µs', aa: -0.2, rounds: [-0.2, -0.2] });
    expect(n.band(1.1)).toEqual([1.1 - 0.2, 1.1 + 0.2]);
    expect(check('', 1.1, '<=', 1, n).verdict).toBe('within noise');
    expect(check('', 1.5, '<=', 1, n).verdict).toBe('MISS');
    expect(check('', 0.5, '<=', 1, n).verdict).toBe('PASS');
    expect(n.text).toBe('±0.20 µs');
  });

  it('leaves a limit without an A/A comparison to its figure alone', () => {
    expect(check('p99 (ms)', 10, '<=', 10).verdict).toBe('PASS');
    expect(check('p99 (ms)', 10.1, '<=', 10).verdict).toBe('MISS');
    expect(check('p99 (ms)', 10.1, '<=', 10).band).toBeUndefined();
  });
});

describe('verdict of a scenario', () => {
  const n = noise({ aa: 1.1, rounds: [1.1] });
  const pass = check('', 2, '>=', 1, n);
  const within = check('', 1, '>=', 1, n);
  const miss = check('', 0.5, '>=', 1, n);
  it('is MISS if one check misses, else within noise if one is, else PASS', () => {
    expect(verdictOf([pass, pass])).toBe('PASS');
    expect(verdictOf([pass, within])).toBe('within noise');
    expect(verdictOf([within, miss])).toBe('MISS');
    expect(verdictOf([within, fact('converged', false)])).toBe('MISS');
    expect(verdictOf([pass, fact('converged', true)])).toBe('PASS');
  });
});

describe('round order', () => {
  it('puts every side in every position over each cycle of rounds', () => {
    const sides = ['raw', 'ours', 'raw2'];
    for (const cycle of [0, 1]) {
      const orders = [0, 1, 2].map((i) => roundOrder(cycle * 3 + i, sides));
      for (const order of orders) expect([...order].sort()).toEqual([...sides].sort());
      for (let position = 0; position < 3; position++) expect(new Set(orders.map((o) => o[position])).size).toBe(3);
    }
  });

  it('pairs the rounds of two sides for the per-round A/A ratios', () => {
    expect(roundRatios([2, 3], [1, 2])).toEqual([2, 1.5]);
  });
});

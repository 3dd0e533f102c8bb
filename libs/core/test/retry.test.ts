import { afterEach, describe, expect, it, vi } from 'vitest';
import { kafkaRetry, RestartSchedule } from '../src/log/kafka/retry.js';
import { backoff, RETRY } from '../src/retry.js';

describe('the retry table', () => {
  it('every schedule grows from its first delay to its longest, within its jitter', () => {
    for (const [name, schedule] of Object.entries(RETRY)) {
      if (!('initial' in schedule)) continue;
      const jitter = 'jitter' in schedule ? schedule.jitter : 0.2;
      const delays = Array.from({ length: 40 }, (_, attempt) => backoff(attempt, schedule));
      expect(Math.min(...delays), name).toBeGreaterThanOrEqual(Math.floor(schedule.initial * (1 - jitter)));
      expect(Math.max(...delays), name).toBeLessThanOrEqual(Math.ceil(schedule.max * (1 + jitter)));
      expect(delays.at(-1)!, name).toBeGreaterThanOrEqual(Math.floor(schedule.max * (1 - jitter)));
    }
  });

  it('a fixed schedule waits the same time on every attempt', () => {
    expect(new Set(Array.from({ length: 10 }, (_, attempt) => backoff(attempt, RETRY.redeliver)))).toEqual(new Set([RETRY.redeliver.initial]));
  });
});

describe('the retry table in kafkajs terms', () => {
  it('names each setting as kafkajs does', () => {
    expect(kafkaRetry({ initial: 100, max: 2000, factor: 3, jitter: 0.1, retries: 4 })).toEqual({
      initialRetryTime: 100,
      maxRetryTime: 2000,
      multiplier: 3,
      factor: 0.1,
      retries: 4,
    });
  });

  it('gives only what a schedule sets, so kafkajs takes the rest from the client (a client passed in kafka.client keeps its delays)', () => {
    const admin = kafkaRetry(RETRY.kafkaAdmin);
    expect(admin).toEqual({ retries: RETRY.kafkaAdmin.retries });
    expect(Object.keys(admin)).toEqual(['retries']);
  });
});

describe('the consumer restart schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps one restart pending, waits longer after each, and starts over once a consumer joined', () => {
    vi.useFakeTimers();
    const schedule = new RestartSchedule({ initial: 100, max: 400, jitter: 0 });
    let runs = 0;
    const restart = () => void runs++;
    schedule.next(restart);
    schedule.next(restart);
    vi.advanceTimersByTime(99);
    expect(runs).toBe(0);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(1);
    schedule.next(restart);
    vi.advanceTimersByTime(199);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    schedule.joined();
    schedule.next(restart);
    vi.advanceTimersByTime(100);
    expect(runs).toBe(3);
  });

  it('runs nothing once cancelled, and leaves no timer', () => {
    vi.useFakeTimers();
    const schedule = new RestartSchedule(RETRY.consumerRestart);
    let runs = 0;
    schedule.next(() => void runs++);
    schedule.cancel();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(RETRY.consumerRestart.max * 2);
    expect(runs).toBe(0);
  });
});

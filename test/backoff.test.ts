import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import type { BackoffPolicy } from '../src/backoff.js';
import { DEFAULT_RENEWAL_POLICY } from '../src/sessions/renewal.js';

describe('backoffDelay', () => {
  const exponential: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 30_000, jitter: 0 };
  it.each([
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [5, 16_000],
    [6, 30_000],
    [2000, 30_000],
  ])('exponential: attempt %i waits %i ms (capped, finite for a huge attempt)', (attempt, ms) => {
    expect(backoffDelay(exponential, attempt)).toBe(ms);
  });

  it('linear grows by factor × base each attempt; factor 1 on exponential stays constant', () => {
    const linear: BackoffPolicy = { baseMs: 2000, factor: 1, growth: 'linear', maxMs: 60_000, jitter: 0 };
    expect([1, 2, 3].map((n) => backoffDelay(linear, n))).toEqual([2000, 4000, 6000]);
    const constant: BackoffPolicy = { baseMs: 2000, factor: 1, maxMs: 60_000, jitter: 0 };
    expect([1, 2, 9].map((n) => backoffDelay(constant, n))).toEqual([2000, 2000, 2000]);
  });

  it('jitter down stays within (1 − jitter) … 1 of the nominal delay; both spreads either side', () => {
    const down: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 30_000, jitter: 0.5, jitterMode: 'down' };
    expect(backoffDelay(down, 1, () => 0)).toBe(1000);
    expect(backoffDelay(down, 1, () => 0.999999)).toBe(500);
    const both: BackoffPolicy = { ...down, jitterMode: 'both' };
    expect(backoffDelay(both, 1, () => 0)).toBe(500);
    expect(backoffDelay(both, 1, () => 0.5)).toBe(1000);
    expect(backoffDelay(both, 1, () => 0.99)).toBe(1490);
  });

  it('minMs and maxMs bound the delay after jitter', () => {
    const bounded: BackoffPolicy = { baseMs: 0, factor: 2, minMs: 250, maxMs: 1000, jitter: 0.2, jitterMode: 'both' };
    expect(backoffDelay(bounded, 1, () => 0.5)).toBe(250);
    expect(backoffDelay({ ...bounded, baseMs: 1000 }, 1, () => 0.99)).toBe(1000);
  });

  it('the renewal policy: 1 s doubling up to 30 s, no jitter', () => {
    expect([1, 2, 3, 5, 6, 20].map((n) => backoffDelay(DEFAULT_RENEWAL_POLICY.backoff, n, () => 0.7))).toEqual([1000, 2000, 4000, 16_000, 30_000, 30_000]);
  });
});

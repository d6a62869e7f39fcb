import { describe, expect, it } from 'vitest';
import { DEFAULT_RENEWAL_POLICY, retryDelay } from '../../src/sessions/renewal.js';

describe('retryDelay', () => {
  it.each([
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [5, 16_000],
    [6, 30_000],
    [20, 30_000],
  ])('retry %i waits %i ms', (attempt, ms) => {
    expect(retryDelay(attempt, DEFAULT_RENEWAL_POLICY)).toBe(ms);
  });
});

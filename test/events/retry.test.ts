import { describe, expect, it } from 'vitest';
import type { DeliveryFailure, RetryPolicy } from '../../src/events/retry.js';
import { nextDelay, parseRetryAfter, retryPolicyOf } from '../../src/events/retry.js';

const bounds = { minDelayMs: 100, maxDelayMs: 60_000, jitter: 0 } as const;
const constant: RetryPolicy = retryPolicyOf({ policy: 'constant', delaySeconds: 2, attempts: 3 }, bounds);
const linear: RetryPolicy = retryPolicyOf({ policy: 'linear', delaySeconds: 2, attempts: 3 }, bounds);
const exponential: RetryPolicy = retryPolicyOf({ policy: 'exponential', delaySeconds: 2, attempts: 20 }, bounds);
const jittered: RetryPolicy = retryPolicyOf({ policy: 'constant', delaySeconds: 2, attempts: 3 }, { ...bounds, jitter: 0.5 });
const zeroDelay: RetryPolicy = retryPolicyOf({ policy: 'constant', delaySeconds: 0, attempts: 3 }, bounds);
const noRetries: RetryPolicy = { ...constant, maxRetries: 0 };

const net: DeliveryFailure = { kind: 'network', message: 'ECONNREFUSED' };
const timeout: DeliveryFailure = { kind: 'timeout', message: 'no answer within 10000 ms' };
const status = (code: number, retryAfterMs: number | null = null): DeliveryFailure => ({ kind: 'status', status: code, retryAfterMs });

describe('nextDelay', () => {
  const cases: [string, RetryPolicy, number, DeliveryFailure, number | null, number?][] = [
    ['constant, 1st failure', constant, 1, net, 2000],
    ['constant, 3rd failure', constant, 3, net, 2000],
    ['constant, retries used up', constant, 4, net, null],
    ['linear, 1st', linear, 1, timeout, 2000],
    ['linear, 2nd', linear, 2, timeout, 4000],
    ['linear, 3rd', linear, 3, timeout, 6000],
    ['exponential, 1st', exponential, 1, status(500), 2000],
    ['exponential, 2nd', exponential, 2, status(502), 4000],
    ['exponential, 4th', exponential, 4, status(503), 16000],
    ['exponential capped at maxDelayMs', exponential, 10, status(504), 60_000],
    ['exponential, huge attempt stays finite', exponential, 20, status(500), 60_000],
    ['408 retries', constant, 1, status(408), 2000],
    ['429 without Retry-After uses the policy', constant, 1, status(429), 2000],
    ['429 honours Retry-After over the policy', constant, 1, status(429, 7000), 7000],
    ['503 honours Retry-After', exponential, 1, status(503, 30_000), 30_000],
    ['Retry-After bounded by maxDelayMs', constant, 1, status(429, 3_600_000), 60_000],
    ['Retry-After of 0 bounded by minDelayMs', constant, 1, status(429, 0), 100],
    ['Retry-After still respects attempts', constant, 4, status(429, 1000), null],
    ['400 is permanent', constant, 1, status(400), null],
    ['401 is permanent', constant, 1, status(401), null],
    ['404 is permanent', constant, 1, status(404), null],
    ['410 is permanent', exponential, 1, status(410), null],
    ['422 is permanent', constant, 1, status(422), null],
    ['3xx is not followed nor retried', constant, 1, status(302), null],
    ['delaySeconds 0 cannot hot-loop', zeroDelay, 1, net, 100],
    ['attempts 0: one try only', noRetries, 1, net, null],
    ['jitter low end (random 0)', jittered, 1, net, 1000, 0],
    ['jitter middle (random 0.5)', jittered, 1, net, 2000, 0.5],
    ['jitter high end (random → 1)', jittered, 1, net, 2980, 0.99],
  ];
  it.each(cases)('%s', (_name, policy, attempt, failure, expected, random = 0.5) => {
    expect(nextDelay(policy, attempt, failure, () => random)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['120', 120_000],
    [' 5 ', 5000],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
    ['soon', null],
    ['', null],
    [null, null],
    ['-5', null],
  ] as const)('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('retryPolicyOf', () => {
  it("maps WAHA's retries block field for field", () => {
    expect(retryPolicyOf({ policy: 'linear', delaySeconds: 3, attempts: 5 }, { minDelayMs: 1, maxDelayMs: 9, jitter: 0.1 })).toEqual({
      maxRetries: 5,
      backoff: { baseMs: 3000, factor: 1, growth: 'linear', minMs: 1, maxMs: 9, jitter: 0.1, jitterMode: 'both' },
    });
  });
  it("uses WAHA's defaults (exponential, 2 s, 15 attempts) without a retries block", () => {
    expect(retryPolicyOf(null)).toMatchObject({ backoff: { baseMs: 2000, factor: 2 }, maxRetries: 15 });
    expect(retryPolicyOf(undefined)).toMatchObject({ backoff: { baseMs: 2000, factor: 2 }, maxRetries: 15 });
    expect(retryPolicyOf(null).backoff.growth).toBeUndefined();
  });
});

import { backoffDelay } from '../backoff.js';
import type { BackoffPolicy } from '../backoff.js';
import type { WebhookConfig } from '../presence/sessions.js';

/**
 * How a webhook delivery is retried, as data. Built from WAHA's `retries` block
 * (`{policy, delaySeconds, attempts}`) plus the server's bounds: how many retries, and the backoff
 * (src/backoff.ts) that spaces them.
 */
export interface RetryPolicy {
  /** Retries after the first try (WAHA's `attempts`): 0 means one try only. */
  readonly maxRetries: number;
  /**
   * WAHA's policies as a backoff: `constant` factor 1, `linear` growth by the base each time,
   * `exponential` factor 2; `delaySeconds` is the base; the server's bounds are min, max and jitter
   * (either side, so retries of many events spread out).
   */
  readonly backoff: BackoffPolicy;
}

/** Why an attempt did not succeed, as `classify` tells it. */
export type DeliveryFailure =
  | { readonly kind: 'network'; readonly message: string }
  | { readonly kind: 'timeout'; readonly message: string }
  | {
      readonly kind: 'status';
      readonly status: number;
      /** The response's `Retry-After`, already resolved to milliseconds from now (null when absent/invalid). */
      readonly retryAfterMs: number | null;
    };

/** WAHA's defaults when a webhook has no `retries` block. */
export const DEFAULT_RETRIES = { policy: 'exponential', delaySeconds: 2, attempts: 15 } as const;

export interface RetryBounds {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: number;
}

export const DEFAULT_RETRY_BOUNDS: RetryBounds = { minDelayMs: 250, maxDelayMs: 15 * 60_000, jitter: 0.2 };

export function retryPolicyOf(
  retries: WebhookConfig['retries'],
  bounds: RetryBounds = DEFAULT_RETRY_BOUNDS,
): RetryPolicy {
  const chosen = retries ?? DEFAULT_RETRIES;
  const growth: Pick<BackoffPolicy, 'factor' | 'growth'> =
    chosen.policy === 'constant' ? { factor: 1 } : chosen.policy === 'linear' ? { factor: 1, growth: 'linear' } : { factor: 2 };
  return {
    maxRetries: Math.max(0, Math.floor(chosen.attempts)),
    backoff: {
      baseMs: Math.max(0, chosen.delaySeconds * 1000),
      ...growth,
      minMs: bounds.minDelayMs,
      maxMs: bounds.maxDelayMs,
      jitter: bounds.jitter,
      jitterMode: 'both',
    },
  };
}

/** 408 Request Timeout, 429 Too Many Requests and every 5xx are worth another try; other statuses are final. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Milliseconds until the next try after `attempt` failed tries (1 after the first failure), or
 * null when the delivery must not be retried: a permanent failure (a 4xx other than 408/429, or
 * any non-retryable status) or the policy's retries used up.
 *
 * `random` is injected so tests are exact; it must return a number in [0, 1).
 */
export function nextDelay(
  policy: RetryPolicy,
  attempt: number,
  failure: DeliveryFailure,
  random: () => number = Math.random,
): number | null {
  if (failure.kind === 'status' && !isRetryableStatus(failure.status)) return null;
  if (attempt > policy.maxRetries) return null;
  if (failure.kind === 'status' && failure.retryAfterMs !== null) {
    // The receiver said when: no jitter, only the bounds.
    return clamp(failure.retryAfterMs, policy.backoff.minMs ?? 0, policy.backoff.maxMs);
  }
  return backoffDelay(policy.backoff, attempt, random);
}

/**
 * `Retry-After` as milliseconds from `now`: either delay-seconds (`"120"`) or an HTTP date. Null
 * when absent or unreadable; a date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date always names a day and month; without letters V8 would read "-5" as a year.
  if (!/[A-Za-z]/.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

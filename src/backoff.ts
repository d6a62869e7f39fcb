/**
 * The one backoff of the server, as data: webhook retries (src/events/retry.ts), engine
 * reconnects (src/engines/noweb) and presence renewals (src/sessions/renewal.ts) each hold a
 * policy and call `backoffDelay`, so "how long until the next try" is said once.
 */
export interface BackoffPolicy {
  /** Delay of the first retry (attempt 1). */
  readonly baseMs: number;
  /**
   * How the delay grows with each further attempt. 'exponential' (default): times `factor` each
   * time (1 keeps it constant); 'linear': by `factor · baseMs` each time (WAHA's linear policy is
   * factor 1: base, 2·base, 3·base…).
   */
  readonly factor: number;
  readonly growth?: 'exponential' | 'linear';
  /** No delay grows beyond this (jitter included). */
  readonly maxMs: number;
  /** No delay is shorter than this (jitter included); 0 when absent. */
  readonly minMs?: number;
  /**
   * Fraction (0..1) of the delay drawn at random, so that many clients failing together do not
   * retry in lockstep. 'down': the delay is (1 − jitter) to 1 times the nominal one (never later
   * than the schedule); 'both': (1 − jitter) to (1 + jitter) times it.
   */
  readonly jitter: number;
  readonly jitterMode?: 'down' | 'both';
}

/**
 * Milliseconds before attempt `attempt` (1 = the first retry): grown from `baseMs` by the policy,
 * capped, jittered, then bounded by `minMs` and `maxMs`, whole milliseconds. `random` returns [0, 1) and
 * is injected so tests can pin it.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const steps = Math.max(0, attempt - 1);
  // factor^n overflows to Infinity long before it matters; the bound takes care of it.
  const grown = policy.growth === 'linear' ? policy.baseMs * (1 + policy.factor * steps) : policy.baseMs * policy.factor ** steps;
  const nominal = Math.min(policy.maxMs, grown);
  const r = random();
  const jittered = policy.jitterMode === 'both' ? nominal * (1 + policy.jitter * (r * 2 - 1)) : nominal * (1 - policy.jitter * r);
  return Math.round(Math.min(policy.maxMs, Math.max(policy.minMs ?? 0, jittered)));
}

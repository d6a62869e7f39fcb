import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { AttemptOutcome, ClaimedDelivery } from '../storage/outbox.js';
import type { Clock } from '../clock.js';
import type { DeliveryResult } from './delivery.js';
import { deliver, describeFailure } from './delivery.js';
import type { RetryBounds } from './retry.js';
import { nextDelay, retryPolicyOf } from './retry.js';
import { parseTarget } from './target.js';
import type { WebhookTarget } from './webhooks.js';

/** Parsed webhook targets kept (one per webhook in practice; cleared when full). */
const TARGET_CACHE_SIZE = 256;

export interface AttemptOptions {
  /** One request's timeout. */
  readonly timeoutMs: number;
  readonly retryBounds: RetryBounds;
  readonly clock: Clock;
  readonly random: () => number;
  readonly dispatcher?: Dispatcher;
}

/** Sends one claimed delivery and says what became of it; never rejects. */
export type Attempt = (delivery: ClaimedDelivery) => Promise<AttemptOutcome>;

/**
 * One attempt at a delivery: the request (its target parsed once per webhook, since every delivery
 * to one webhook stores the same text), then the outcome the outbox records: delivered, a retry
 * at the webhook's backoff, or failed for good once its retries are spent or the failure is final.
 */
export function createAttempt(options: AttemptOptions): Attempt {
  const { timeoutMs, retryBounds, clock, random } = options;
  const targets = new Map<string, WebhookTarget>();
  function targetOf(text: string): WebhookTarget {
    let target = targets.get(text);
    if (target === undefined) {
      target = parseTarget(text);
      if (targets.size >= TARGET_CACHE_SIZE) targets.clear();
      targets.set(text, target);
    }
    return target;
  }

  function outcomeOf(delivery: ClaimedDelivery, result: DeliveryResult, retries: Parameters<typeof retryPolicyOf>[0], now: number): AttemptOutcome {
    if (result.ok) return { kind: 'delivered', status: result.status };
    const status = result.failure.kind === 'status' ? result.failure.status : null;
    const error = describeFailure(result.failure);
    const delay = nextDelay(retryPolicyOf(retries, retryBounds), delivery.attempts + 1, result.failure, random);
    if (delay === null) return { kind: 'failed', error, status };
    return { kind: 'retry', nextAttemptAt: now + delay, error, status };
  }

  const deliverOptions = {
    timeoutMs,
    now: () => clock.now(),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  };
  return async (delivery) => {
    try {
      const target = targetOf(delivery.target);
      const result = await deliver(target, delivery.body, deliverOptions);
      return outcomeOf(delivery, result, target.retries, clock.now());
    } catch (error) {
      // Only a corrupt stored target gets here (deliver never rejects): retrying cannot fix it.
      return { kind: 'failed', error: `cannot send: ${error instanceof Error ? error.message : String(error)}`, status: null };
    }
  };
}

/**
 * The delivery's logger, built only when something is logged: a child logger per delivery costs
 * more than the rest of the worker's own work on the way to a 2xx.
 */
export function deliveryLog(logger: Logger, delivery: ClaimedDelivery): () => Logger {
  return () => logger.child({ deliveryId: delivery.id, eventId: delivery.eventId, url: delivery.url, session: delivery.session });
}

/** The line an attempt's outcome is worth: a retry at info, a final failure at warn, a success at debug. */
export function logOutcome(logger: Logger, log: () => Logger, delivery: ClaimedDelivery, outcome: AttemptOutcome): void {
  const attempts = delivery.attempts + 1;
  switch (outcome.kind) {
    case 'delivered':
      if (logger.isLevelEnabled('debug')) log().debug({ status: outcome.status, attempts }, 'webhook delivered');
      break;
    case 'retry':
      log().info({ error: outcome.error, attempts, nextAttemptAt: outcome.nextAttemptAt }, 'webhook delivery failed; will retry');
      break;
    case 'failed':
      log().warn({ error: outcome.error, attempts }, 'webhook delivery failed for good');
      break;
  }
}

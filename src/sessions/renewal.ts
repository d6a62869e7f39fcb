import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import type { BackoffPolicy } from '../backoff.js';
import type { Clock } from '../clock.js';
import type { GlobalPresence } from '../presence/status.js';
import type { SubscriptionStore } from '../storage/presence.js';
import type { Renewal, Runtime } from './runtime.js';

/**
 * Renewal after a reconnect. WhatsApp forgets presence subscriptions when a connection ends, and
 * the global presence with them; no library re-subscribes by itself, which is why WAHA users stop
 * receiving `presence.update` after a while. Every time a session reaches WORKING, the session layer
 * re-sends the stored global presence and re-subscribes every stored chat, through this module.
 *
 * Throttled on purpose: mass re-subscribing thousands of contacts has led to bans.
 */
export interface RenewalPolicy {
  /** Engine commands per second, at most. */
  readonly ratePerSecond: number;
  /** Attempts per command before it is given up until the next reconnect. */
  readonly maxAttempts: number;
  /** Delays between the attempts of one command. */
  readonly backoff: BackoffPolicy;
}

/** 1 s doubling up to 30 s between the attempts of one command; no jitter, the rate limit already spaces them. */
export const DEFAULT_RENEWAL_POLICY: RenewalPolicy = { ratePerSecond: 10, maxAttempts: 5, backoff: { baseMs: 1000, factor: 2, maxMs: 30_000, jitter: 0 } };

export interface RenewalTarget {
  setPresence(presence: GlobalPresence): Promise<void>;
  subscribe(chatId: string): Promise<void>;
}

export interface RenewalReport {
  readonly presence: 'sent' | 'failed' | 'none';
  readonly subscribed: number;
  readonly failed: readonly string[];
}

export interface RenewalJob {
  readonly target: RenewalTarget;
  readonly presence: GlobalPresence | null;
  readonly chatIds: readonly string[];
  /** Asked before each chat's first attempt: false skips it (unsubscribed since the list was read). */
  readonly wanted?: (chatId: string) => boolean;
  readonly policy: RenewalPolicy;
  readonly signal: AbortSignal;
  /** Waits between commands and before retries; a test's clock does not wait. */
  readonly sleep: Clock['sleep'];
  readonly logger: Logger;
}

/**
 * Sends the presence and every subscription, one command at a time, spaced by the rate limit.
 * A command that fails is retried with backoff, then logged and skipped (the chat stays stored and
 * is tried again at the next reconnect). Rejects with the abort reason when `signal` aborts (the
 * session stopped or reconnected): the caller awaits it and ignores that rejection.
 */
export async function renew(job: RenewalJob): Promise<RenewalReport> {
  const spacing = 1000 / job.policy.ratePerSecond;
  let commands = 0;

  async function attempt(what: string, command: () => Promise<void>): Promise<boolean> {
    for (let tries = 1; ; tries += 1) {
      job.signal.throwIfAborted();
      if (commands > 0) await job.sleep(spacing, job.signal);
      commands += 1;
      try {
        await command();
        return true;
      } catch (error) {
        job.signal.throwIfAborted();
        if (tries >= job.policy.maxAttempts) {
          job.logger.error({ err: error, what, attempts: tries }, 'renewal command failed, giving up until the next reconnect');
          return false;
        }
        const delay = backoffDelay(job.policy.backoff, tries);
        job.logger.warn({ err: error, what, attempt: tries, retryInMs: delay }, 'renewal command failed, retrying');
        await job.sleep(delay, job.signal);
      }
    }
  }

  let presence: RenewalReport['presence'] = 'none';
  const { presence: global } = job;
  if (global !== null) {
    presence = (await attempt(`presence ${global}`, () => job.target.setPresence(global))) ? 'sent' : 'failed';
  }
  let subscribed = 0;
  const failed: string[] = [];
  for (const chatId of job.chatIds) {
    if (job.wanted?.(chatId) === false) continue;
    if (await attempt(`subscribe ${chatId}`, () => job.target.subscribe(chatId))) subscribed += 1;
    else failed.push(chatId);
  }
  return { presence, subscribed, failed };
}

/** Told of every renewal that ran to its end (not cancelled): its report (null when it failed as a whole) and how long it took. */
export type RenewalObserver = (session: string, report: RenewalReport | null, ms: number) => void;

export interface RenewalDeps {
  readonly subscriptions: Pick<SubscriptionStore, 'list'>;
  readonly policy: RenewalPolicy;
  readonly clock: Clock;
  readonly observer?: RenewalObserver;
}

/**
 * Re-sends the stored global presence and re-subscribes every stored chat of a session that just
 * reached WORKING. The task is kept in the runtime and awaited by whoever stops or restarts the
 * session; a newer renewal first aborts and awaits the older one, so two never run at once.
 */
export function startRenewal(runtime: Runtime, deps: RenewalDeps): void {
  const engine = runtime.engine;
  if (engine === null) return;
  const previous = runtime.renewal;
  previous?.controller.abort(new Error('superseded by a newer renewal'));
  const controller = new AbortController();
  const renewalLogger = runtime.logger.child({ area: 'renewal' });
  const done = (async () => {
    await previous?.done;
    const began = deps.clock.now();
    try {
      const chatIds = (await deps.subscriptions.list(runtime.name)).map((subscription) => subscription.chatId);
      // An unsubscribe whose removal this list already reflects needs no skipping any more; one
      // whose removal had not committed yet (another connection) is still skipped.
      const listed = new Set(chatIds);
      for (const chatId of runtime.unsubscribed) if (!listed.has(chatId)) runtime.unsubscribed.delete(chatId);
      const report = await renew({
        target: engine,
        presence: runtime.stored.presence,
        chatIds,
        wanted: (chatId) => !runtime.unsubscribed.has(chatId),
        policy: deps.policy,
        signal: controller.signal,
        sleep: (ms, signal) => deps.clock.sleep(ms, signal),
        logger: renewalLogger,
      });
      renewalLogger.info({ ...report, failed: report.failed.length }, 'presence and subscriptions renewed');
      deps.observer?.(runtime.name, report, deps.clock.now() - began);
    } catch (error) {
      if (controller.signal.aborted) renewalLogger.info('renewal cancelled');
      else {
        renewalLogger.error({ err: error }, 'renewal failed');
        deps.observer?.(runtime.name, null, deps.clock.now() - began);
      }
    }
  })();
  const renewal: Renewal = { controller, done };
  runtime.renewal = renewal;
  void done.finally(() => {
    if (runtime.renewal === renewal) runtime.renewal = null;
  });
}

/** Aborts the session's renewal in progress, if any, and waits for it to end. */
export async function cancelRenewal(runtime: Runtime): Promise<void> {
  const renewal = runtime.renewal;
  if (renewal === null) return;
  renewal.controller.abort(new Error('session stopping'));
  await renewal.done;
}

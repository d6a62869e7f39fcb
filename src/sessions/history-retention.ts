import type { Logger } from 'pino';
import type { SessionConfig } from '../presence/sessions.js';
import { HISTORY_DELETE_BATCH } from '../storage/history.js';
import type { PresenceHistoryStore } from '../storage/history.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

const DAY_MS = 86_400_000;

export interface RetentionDeps {
  readonly store: PresenceHistoryStore;
  /** A session's config, null for a session that no longer exists (the default retention applies). */
  readonly configOf: (session: string) => Promise<SessionConfig | null>;
  readonly retentionDays: (config: SessionConfig | null) => number;
  readonly logger: Logger;
  /** Milliseconds since the epoch; tests drive it. */
  readonly clock?: Pick<Clock, 'now'>;
  /** Rows per delete statement (at most HISTORY_DELETE_BATCH). */
  readonly batchSize?: number;
  /** Between two runs: one hour. */
  readonly intervalMs?: number;
  /** Before the first run after start: one minute (a starting server has better things to do). */
  readonly firstDelayMs?: number;
  /** Between two batches: gives the event loop (and the presence path) its turn. */
  readonly pause?: () => Promise<void>;
}

export interface RetentionReport {
  readonly sessions: number;
  readonly deleted: number;
  readonly batches: number;
}

export interface RetentionJob {
  /** One pass over every session's history; null when another server runs retention now. */
  runOnce(): Promise<RetentionReport | null>;
  start(): void;
  /** Stops the timer and waits for a pass in progress (it stops after its current batch). */
  stop(): Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Removes presence history older than each session's retention, in the background: small batches
 * (bounded rows per statement) with a pause between them, so neither the database nor the event
 * loop is held for long. With several servers, only the holder of the retention lock runs a pass.
 */
export function createRetentionJob(deps: RetentionDeps): RetentionJob {
  // Its timers stay Node's own: they are unref'd, so background work never keeps a stopping process alive.
  const clock = deps.clock ?? systemClock;
  const batchSize = Math.min(deps.batchSize ?? HISTORY_DELETE_BATCH, HISTORY_DELETE_BATCH);
  const pause = deps.pause ?? nextTurn;
  const logger = deps.logger.child({ area: 'history-retention' });
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  async function pass(): Promise<RetentionReport> {
    const now = clock.now();
    let deleted = 0;
    let batches = 0;
    const sessions = await deps.store.sessions();
    for (const session of sessions) {
      const cutoff = now - deps.retentionDays(await deps.configOf(session)) * DAY_MS;
      for (;;) {
        if (stopped) return { sessions: sessions.length, deleted, batches };
        const removed = await deps.store.deleteOlderThan(session, cutoff, batchSize);
        batches += 1;
        deleted += removed;
        if (removed < batchSize) break;
        await pause();
      }
    }
    return { sessions: sessions.length, deleted, batches };
  }

  async function runOnce(): Promise<RetentionReport | null> {
    const report = await deps.store.withRetentionLock(pass);
    if (report === null) logger.debug('another server runs presence history retention');
    else if (report.deleted > 0) logger.info(report, 'old presence history removed');
    return report;
  }

  function schedule(ms: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      const run = runOnce().catch((error: unknown) => {
        logger.error({ err: error }, 'presence history retention failed; retried at the next run');
      });
      running = run;
      void run.finally(() => {
        running = null;
        schedule(deps.intervalMs ?? 3_600_000);
      });
    }, ms);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      stopped = false;
      schedule(deps.firstDelayMs ?? 60_000);
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}

import type { Logger } from 'pino';
import type { SessionConfig } from '../presence/sessions.js';
import type { SessionStatus } from '../presence/status.js';
import type { ParticipantPresence } from '../presence/types.js';
import type { PresenceHistoryStore, SessionChange } from '../storage/history.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/** The server-wide defaults a session's `config.presenceHistory` overrides. */
export interface HistoryDefaults {
  /** WA_PRESENCE_HISTORY */
  readonly enabled: boolean;
  /** WA_PRESENCE_HISTORY_RETENTION_DAYS */
  readonly retentionDays: number;
}

export function historyEnabled(config: SessionConfig | null | undefined, defaults: HistoryDefaults): boolean {
  return config?.presenceHistory?.enabled ?? defaults.enabled;
}

export function historyRetentionDays(config: SessionConfig | null | undefined, defaults: HistoryDefaults): number {
  return config?.presenceHistory?.retentionDays ?? defaults.retentionDays;
}

export interface HistoryRecorderDeps {
  readonly store: PresenceHistoryStore;
  readonly defaults: HistoryDefaults;
  readonly logger: Logger;
  /** Milliseconds since the epoch. */
  readonly clock?: Pick<Clock, 'now'>;
  /** How often listening sessions say they are alive (the start of a crash gap): 30 s. */
  readonly heartbeatMs?: number;
  /** Most writes waiting; past it new changes are dropped (and counted) rather than growing memory. */
  readonly maxPending?: number;
  /** How long a write may wait for others to share its transaction: 100 ms. */
  readonly batchDelayMs?: number;
  /** Last states remembered for deduplication; the store answers the others. */
  readonly memoryEntries?: number;
}

/**
 * Records presence history from the session manager's two hooks, off the presence path: each hook
 * only queues, and one background loop writes in order, appends in batches. Equal consecutive
 * states of a participant are written once: the last state is remembered in memory (bounded), and
 * the store's newest row is the truth for one not in memory (after a restart).
 */
export interface HistoryRecorder {
  /** Hook: a presence change the manager stored (its merge result), learned now. Never waits. */
  changed(session: string, config: SessionConfig, chatId: string, presences: readonly ParticipantPresence[]): void;
  /** Hook: a session status transition. WORKING starts listening; leaving it opens a gap. Never waits. */
  status(session: string, config: SessionConfig, to: SessionStatus): void;
  /** The session was deleted: its history goes with it. */
  forget(session: string): Promise<void>;
  /** Forgets one chat's history (DELETE route); the number of changes removed. */
  forgetChat(session: string, chatId: string): Promise<number>;
  enabled(config: SessionConfig | null | undefined): boolean;
  retentionDays(config: SessionConfig | null | undefined): number;
  /** Resolves once every write queued so far is done. */
  flush(): Promise<void>;
  /** Stops the heartbeat and waits for the queue (after the sessions have stopped). */
  close(): Promise<void>;
  /** Changes dropped because the queue was full. */
  readonly dropped: number;
}

type Op = { readonly kind: 'append'; readonly change: SessionChange } | { readonly kind: 'run'; readonly what: string; readonly run: () => Promise<void> };

const APPEND_BATCH = 500;

export function createHistoryRecorder(deps: HistoryRecorderDeps): HistoryRecorder {
  const { store, defaults } = deps;
  const logger = deps.logger.child({ area: 'history' });
  // Its timers stay Node's own: they are unref'd, so background work never keeps a stopping process alive.
  const clock = deps.clock ?? systemClock;
  const maxPending = deps.maxPending ?? 100_000;
  const memoryEntries = deps.memoryEntries ?? 100_000;
  const queue: Op[] = [];
  const lastState = new Map<string, string>();
  /** Sessions listening here, with the time their listening started (fences their marker). */
  const listening = new Map<string, number>();
  let draining: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const batchDelayMs = deps.batchDelayMs ?? 100;
  let dropped = 0;

  const keyOf = (change: { session: string; chatId: string; participant: string }): string => `${change.session}\u0000${change.chatId}\u0000${change.participant}`;
  const stateOf = (change: { presence: string; lastSeen: number | null }): string => `${change.presence}:${change.lastSeen ?? ''}`;

  function remember(key: string, state: string): void {
    lastState.delete(key);
    lastState.set(key, state);
    if (lastState.size > memoryEntries) {
      const oldest = lastState.keys().next();
      if (oldest.done !== true) lastState.delete(oldest.value);
    }
  }

  function forgetMemory(prefix: string): void {
    for (const key of lastState.keys()) if (key.startsWith(prefix)) lastState.delete(key);
  }

  async function writeBatch(batch: SessionChange[]): Promise<void> {
    const fresh: SessionChange[] = [];
    for (const change of batch) {
      const key = keyOf(change);
      let known = lastState.get(key);
      if (known === undefined) {
        const stored = await store.last(change.session, change.chatId, change.participant);
        known = stored === null ? '' : stateOf(stored);
      }
      const state = stateOf(change);
      if (known === state) continue;
      remember(key, state);
      fresh.push(change);
    }
    try {
      await store.append(fresh);
    } catch (error) {
      // What is in memory was not stored: the store is the truth again for these participants.
      for (const change of fresh) lastState.delete(keyOf(change));
      throw error;
    }
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const head = queue[0];
      if (head === undefined) break;
      if (head.kind === 'run') {
        queue.shift();
        try {
          await head.run();
        } catch (error) {
          logger.error({ err: error, what: head.what }, 'presence history write failed');
        }
        continue;
      }
      const batch: SessionChange[] = [];
      while (batch.length < APPEND_BATCH) {
        const next = queue[0];
        if (next === undefined || next.kind !== 'append') break;
        queue.shift();
        batch.push(next.change);
      }
      try {
        await writeBatch(batch);
      } catch (error) {
        logger.error({ err: error, changes: batch.length }, 'presence history changes could not be stored; they are lost');
      }
    }
  }

  function run(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (draining !== null) return;
    draining = drain().finally(() => {
      draining = null;
      // Queued while the loop was finishing.
      if (queue.length > 0) kick();
    });
  }

  /**
   * Writes wait up to `batchDelayMs` so that many go in one transaction: one commit per change
   * (a WAL append and, on PostgreSQL, a round trip each) cost more than the presence path itself.
   */
  function kick(): void {
    if (timer !== null || draining !== null) return;
    if (queue.length >= APPEND_BATCH) {
      run();
      return;
    }
    timer = setTimeout(run, batchDelayMs);
    timer.unref();
  }

  function enqueue(op: Op): void {
    if (op.kind === 'append' && queue.length >= maxPending) {
      dropped += 1;
      if (dropped === 1 || dropped % 10_000 === 0) logger.warn({ dropped }, 'presence history queue full: changes dropped');
      return;
    }
    queue.push(op);
    kick();
  }

  const heartbeat = setInterval(() => {
    if (listening.size === 0) return;
    const entries = [...listening].map(([session, since]) => ({ session, since }));
    const at = clock.now();
    enqueue({ kind: 'run', what: 'heartbeat', run: () => store.heartbeat(entries, at) });
  }, deps.heartbeatMs ?? 30_000);
  heartbeat.unref();

  async function flush(): Promise<void> {
    while (draining !== null || queue.length > 0) {
      run();
      await draining;
    }
  }

  const recorder: HistoryRecorder = {
    changed(session, config, chatId, presences) {
      if (!historyEnabled(config, defaults)) return;
      const at = clock.now();
      for (const presence of presences) {
        enqueue({ kind: 'append', change: { session, chatId, participant: presence.participant, presence: presence.lastKnownPresence, at, lastSeen: presence.lastSeen } });
      }
    },
    status(session, config, to) {
      const at = clock.now();
      if (to === 'WORKING') {
        if (!historyEnabled(config, defaults)) return;
        listening.set(session, at);
        enqueue({ kind: 'run', what: 'start listening', run: () => store.startListening(session, at) });
        return;
      }
      // Whatever the config says now: a session that was listening stops (history turned off by an update too).
      const since = listening.get(session);
      if (since === undefined) return;
      listening.delete(session);
      enqueue({ kind: 'run', what: 'stop listening', run: () => store.stopListening(session, at, since) });
    },
    async forget(session) {
      listening.delete(session);
      await flush();
      forgetMemory(`${session}\u0000`);
      await store.deleteSession(session);
    },
    async forgetChat(session, chatId) {
      await flush();
      forgetMemory(`${session}\u0000${chatId}\u0000`);
      return store.deleteChat(session, chatId);
    },
    enabled: (config) => historyEnabled(config, defaults),
    retentionDays: (config) => historyRetentionDays(config, defaults),
    flush,
    async close() {
      clearInterval(heartbeat);
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await flush();
    },
    get dropped() {
      return dropped;
    },
  };
  return recorder;
}

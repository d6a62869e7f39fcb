import type { PresenceStatus } from '../presence/status.js';

/** One stored presence change of a participant in a chat. */
export interface StoredChange {
  readonly chatId: string;
  readonly participant: string;
  readonly presence: PresenceStatus;
  /** When we learned it: milliseconds since the epoch. */
  readonly at: number;
  /** WhatsApp's last seen, Unix seconds; null when hidden or unknown. */
  readonly lastSeen: number | null;
}

export interface SessionChange extends StoredChange {
  readonly session: string;
}

/** A time the session could not hear, in ms since the epoch; `to` null: still not listening. */
export interface StoredGap {
  readonly from: number;
  readonly to: number | null;
}

export interface HistoryRange {
  readonly session: string;
  /** Inclusive bounds, ms since the epoch. */
  readonly from: number;
  readonly to: number;
}

export interface ChatHistoryRange extends HistoryRange {
  readonly chatId: string;
  /** Only this participant; every participant of the chat when absent. */
  readonly participant?: string;
}

/** Largest number of rows one retention statement deletes (a statement holds its locks this long). */
export const HISTORY_DELETE_BATCH = 1000;

/**
 * Presence history: every change of a participant's presence per session and chat, and the times
 * the session was not listening (gaps). Opt-in and personal data: nothing writes here unless
 * history is on for the session (src/sessions/history-recorder.ts decides).
 *
 * Deduplication is the writer's job (equal consecutive states are appended once); the store keeps
 * what it is given, in order. All times are ms since the epoch except `lastSeen` (Unix seconds, as
 * WhatsApp sends it). Non-goals: no aggregation (the domain, src/presence/history.ts, computes
 * intervals), no per-row updates.
 */
export interface PresenceHistoryStore {
  /** Appends the changes in one transaction, in the order given. */
  append(changes: readonly SessionChange[]): Promise<void>;
  /** The newest stored change of one participant, or null: the writer's truth after a restart. */
  last(session: string, chatId: string, participant: string): Promise<StoredChange | null>;
  /**
   * Changes of one chat within the range, ordered by participant then time. Served by the index
   * (session, chat_id, participant, at), one seek per participant to `from`: a 30-day range of one
   * contact reads only its rows in the range, not the rest of the chat's.
   */
  range(query: ChatHistoryRange): Promise<StoredChange[]>;
  /** Per participant of the chat (or the one asked for): its last change before `at`, if any. */
  before(session: string, chatId: string, participant: string | undefined, at: number): Promise<StoredChange[]>;
  /** Gaps that overlap [from, to], oldest first; an open gap (to null) is still going. */
  gaps(session: string, from: number, to: number): Promise<StoredGap[]>;
  /**
   * The session hears from `at` (WORKING): closes its open gap at `at`. A marker left by a session
   * that was listening when its server died (no clean stop) becomes the gap [last heartbeat, at].
   */
  startListening(session: string, at: number): Promise<void>;
  /**
   * The session stops hearing at `at` (left WORKING, server stop): opens a gap unless one is open.
   * `since` is the `at` of this server's `startListening`: when another server has started
   * listening since (it took the session over while this one stalled), nothing changes.
   */
  stopListening(session: string, at: number, since: number): Promise<void>;
  /** Records that these listening sessions (each with its `since`) were alive at `at`: a crash gap starts at the last one. */
  heartbeat(listening: readonly { readonly session: string; readonly since: number }[], at: number): Promise<void>;
  /**
   * Every change of the session (or one chat) within the range, ordered by time, fetched in pages
   * of `batchSize` by keyset (no transaction or cursor held while the consumer is slow): memory
   * stays flat whatever the range holds.
   */
  export(query: HistoryRange & { readonly chatId?: string; readonly batchSize?: number }): AsyncIterable<StoredChange>;
  /** Forgets a chat's changes (a privacy request); the number of rows removed. */
  deleteChat(session: string, chatId: string): Promise<number>;
  /** Forgets everything of the session: changes, gaps and its listening marker. */
  deleteSession(session: string): Promise<void>;
  /**
   * One retention batch: removes at most `limit` changes of the session older than `before` (ms),
   * and its gaps that ended before it; returns the number of changes removed.
   */
  deleteOlderThan(session: string, before: number, limit: number): Promise<number>;
  /** Sessions that have stored changes or gaps (the retention job's work list). */
  sessions(): Promise<string[]>;
  /**
   * Runs `work` while holding the cluster-wide retention lock (PostgreSQL advisory lock); resolves
   * to null without running it when another server holds it. SQLite has one server: always runs.
   */
  withRetentionLock<T>(work: () => Promise<T>): Promise<T | null>;
}

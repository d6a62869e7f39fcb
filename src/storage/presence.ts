import type { ChatPresence, ParticipantPresence } from '../presence/types.js';

/**
 * Last known presence per session, chat and participant, so `GET /presence` answers after a
 * restart. The merge rules (what an update changes) are the domain's (`src/presence/merge.ts`);
 * the store only persists their result.
 */
export interface PresenceStore {
  /** Every participant entry of the chat, or null when nothing is known about it. */
  get(session: string, chatId: string): Promise<ChatPresence | null>;
  /** Every chat of the session with at least one entry, ordered by chat id. */
  list(session: string): Promise<ChatPresence[]>;
  /** Upserts these participants of the chat (other participants are kept). */
  put(session: string, chatId: string, presences: readonly ParticipantPresence[]): Promise<void>;
  clear(session: string): Promise<void>;
}

/** One chat a session asked presence for. */
export interface StoredSubscription {
  readonly chatId: string;
  /**
   * Milliseconds since the epoch when the chat was subscribed (the first time: subscribing again
   * keeps it); null for subscriptions stored before the time was recorded (migration 3).
   */
  readonly since: number | null;
}

/** Chats a session asked presence for; renewed after every reconnect. */
export interface SubscriptionStore {
  /** `true` when newly added; `since` (ms since the epoch) is stored only then. */
  add(session: string, chatId: string, since: number): Promise<boolean>;
  /** `true` when the chat was subscribed. */
  remove(session: string, chatId: string): Promise<boolean>;
  /** In the order they were added. */
  list(session: string): Promise<StoredSubscription[]>;
  clear(session: string): Promise<void>;
}

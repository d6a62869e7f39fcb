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

/** Chats a session asked presence for; renewed after every reconnect. */
export interface SubscriptionStore {
  /** `true` when newly added. */
  add(session: string, chatId: string): Promise<boolean>;
  remove(session: string, chatId: string): Promise<boolean>;
  /** In the order they were added. */
  list(session: string): Promise<string[]>;
  clear(session: string): Promise<void>;
}

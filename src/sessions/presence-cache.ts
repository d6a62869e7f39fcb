import type { ChatPresence } from '../presence/types.js';

/**
 * What the presence store holds for the chats of one session seen lately, so that merging an
 * engine update does not read the store first. It stays equal to the store because the session's
 * event queue is its only writer (one server runs a session at a time; another server that takes
 * the session over starts with an empty cache): `set` only after a write succeeded, `delete` when a
 * write failed (the store then says what is true), `clear` with the store's clear.
 *
 * Bounded: past `maxChats` the least recently used chat is forgotten and read from the store
 * again when it next changes.
 */
export interface PresenceCache {
  /** `undefined`: not known here (read the store); `null`: the store has nothing for the chat. */
  get(chatId: string): ChatPresence | null | undefined;
  set(chatId: string, presence: ChatPresence | null): void;
  delete(chatId: string): void;
  clear(): void;
}

export const DEFAULT_PRESENCE_CACHE_CHATS = 2000;

export function createPresenceCache(maxChats: number = DEFAULT_PRESENCE_CACHE_CHATS): PresenceCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const chats = new Map<string, ChatPresence | null>();
  return {
    get(chatId) {
      const presence = chats.get(chatId);
      if (presence === undefined) return undefined;
      chats.delete(chatId);
      chats.set(chatId, presence);
      return presence;
    },
    set(chatId, presence) {
      chats.delete(chatId);
      chats.set(chatId, presence);
      if (chats.size > maxChats) {
        const oldest = chats.keys().next();
        if (oldest.done !== true) chats.delete(oldest.value);
      }
    },
    delete(chatId) {
      chats.delete(chatId);
    },
    clear() {
      chats.clear();
    },
  };
}

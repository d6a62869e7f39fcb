import type { ChatPresence } from '../presence/types.js';

/**
 * What the presence store holds for the chats of one session seen lately, so that merging an
 * engine update does not read the store first, and reads answer from memory. It stays equal to the
 * store because the session's event queue is its only writer (one server runs a session at a time;
 * another server that takes the session over starts with an empty cache): `set` when a write is
 * made (it commits in the order made, so the cache is at most a write or two ahead of the store),
 * `delete` when a write failed (the store then says what is true), `clear` with the store's clear.
 *
 * Readers that missed may put what they read from the store back (`remember`, `fill`), but only
 * if the cache did not change since they began reading (`version`): a write that committed before
 * their read ends is followed by its `set`, which either came first (the read is refused) or comes
 * later (and overwrites it), so a stale read never outlives the next write.
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
  /**
   * Every chat with a presence, ordered by chat id (as the store lists them), when the cache holds
   * every chat of the store (since a `fill`, and nothing forgotten since); else `undefined`.
   * The same array until the next change: callers must not modify it.
   */
  list(): readonly ChatPresence[] | undefined;
  /** Bumped by `set`, `delete` and `clear`: a read of the store begun at one version may be remembered while it holds. */
  version(): number;
  /** What the store answered for the chat, read since `version`; ignored when the cache changed since. */
  remember(version: number, chatId: string, presence: ChatPresence | null): void;
  /** The store's whole list, read since `version`; ignored when the cache changed since or the list is longer than the bound. */
  fill(version: number, chats: readonly ChatPresence[]): void;
}

export const DEFAULT_PRESENCE_CACHE_CHATS = 2000;

const byId = (a: ChatPresence, b: ChatPresence): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function createPresenceCache(maxChats: number = DEFAULT_PRESENCE_CACHE_CHATS): PresenceCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const chats = new Map<string, ChatPresence | null>();
  let changes = 0;
  /** Whether every chat of the store is in `chats`. */
  let complete = false;
  let listed: readonly ChatPresence[] | null = null;
  /** The chat last moved to the most recent end of `chats` (null: none, or it may be gone). */
  let newest: string | null = null;

  /** Whether it forgot a chat to make room. */
  function put(chatId: string, presence: ChatPresence | null): boolean {
    chats.delete(chatId);
    chats.set(chatId, presence);
    newest = chatId;
    listed = null;
    if (chats.size <= maxChats) return false;
    const oldest = chats.keys().next();
    if (oldest.done !== true) chats.delete(oldest.value);
    complete = false;
    return true;
  }

  return {
    get(chatId) {
      const presence = chats.get(chatId);
      if (presence === undefined) return undefined;
      // Moved to the most recent end, unless it is there: a chat read again and again (a bot
      // polling its one chat) then costs one lookup a read.
      if (chatId !== newest) {
        chats.delete(chatId);
        chats.set(chatId, presence);
        newest = chatId;
      }
      return presence;
    },
    set(chatId, presence) {
      changes += 1;
      put(chatId, presence);
    },
    delete(chatId) {
      changes += 1;
      complete = false;
      listed = null;
      chats.delete(chatId);
      if (chatId === newest) newest = null;
    },
    clear() {
      changes += 1;
      complete = false;
      listed = null;
      chats.clear();
      newest = null;
    },
    list() {
      if (!complete) return undefined;
      if (listed === null) {
        const present: ChatPresence[] = [];
        for (const presence of chats.values()) if (presence !== null) present.push(presence);
        listed = present.sort(byId);
      }
      return listed;
    },
    version: () => changes,
    remember(version, chatId, presence) {
      if (version !== changes || chats.has(chatId)) return;
      put(chatId, presence);
    },
    fill(version, list) {
      if (version !== changes || list.length > maxChats) return;
      // Chats the cache holds are as new as the store's (nothing changed since the read began).
      let forgot = false;
      for (const presence of list) if (!chats.has(presence.id) && put(presence.id, presence)) forgot = true;
      complete = !forgot;
      listed = null;
    },
  };
}

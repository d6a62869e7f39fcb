import type { ChatPresence, ParticipantPresence } from './types.js';

/**
 * What a presence update changes in the store. Two rules, and nothing else:
 *
 * 1. `lastKnownPresence` is always the newest value WhatsApp reported.
 * 2. `lastSeen` only moves forward: it is the latest of the stored value and the update's value,
 *    and a `null` in the update never erases a known value. WhatsApp sends `last` only with
 *    `unavailable` (and not at all when the person hides it), so `online`, `typing`, `recording`,
 *    `paused` and a hidden `offline` all carry the last known `lastSeen` across; a client reading
 *    an `offline` entry gets the last time we know the person was online. `null` means never known
 *    (or always hidden).
 *
 * 3. `lastSeenHidden` follows the latest `offline`: WhatsApp says whether the last seen is hidden
 *    only there, so the other presences carry the stored value across.
 *
 * The result is the entry to store, or `null` when nothing changed: WhatsApp repeats the same
 * presence often (every re-subscribe pushes the current state again), and consecutive identical
 * updates are stored once and emitted once.
 */
export function mergePresence(stored: ParticipantPresence | null, update: ParticipantPresence): ParticipantPresence | null {
  const lastSeen = latest(stored?.lastSeen ?? null, update.lastSeen);
  const hidden = update.lastKnownPresence === 'offline' ? update.lastSeenHidden === true : stored?.lastSeenHidden === true;
  if (stored !== null && stored.lastKnownPresence === update.lastKnownPresence && stored.lastSeen === lastSeen && (stored.lastSeenHidden === true) === hidden) return null;
  return { participant: update.participant, lastKnownPresence: update.lastKnownPresence, lastSeen, ...(hidden ? { lastSeenHidden: true } : {}) };
}

function sameEntry(a: ParticipantPresence, b: ParticipantPresence): boolean {
  return a.lastKnownPresence === b.lastKnownPresence && a.lastSeen === b.lastSeen && (a.lastSeenHidden === true) === (b.lastSeenHidden === true);
}

function latest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/**
 * Applies every participant update of one chat, in order, to what is stored for it. Returns the
 * entries whose final value differs from the stored one (one per participant), in the order first
 * changed; an empty list when the update changes nothing. A change undone within the same batch
 * (typing, then online again) is not reported: only the net effect is stored and emitted.
 */
export function mergeChatPresence(stored: ChatPresence | null, updates: readonly ParticipantPresence[]): ParticipantPresence[] {
  const current = new Map<string, ParticipantPresence>();
  for (const entry of stored?.presences ?? []) current.set(entry.participant, entry);
  const changed = new Map<string, ParticipantPresence>();
  for (const update of updates) {
    const merged = mergePresence(current.get(update.participant) ?? null, update);
    if (merged === null) continue;
    current.set(update.participant, merged);
    changed.set(update.participant, merged);
  }
  const before = new Map((stored?.presences ?? []).map((entry) => [entry.participant, entry]));
  return [...changed.values()].filter((entry) => {
    const old = before.get(entry.participant);
    return old === undefined || !sameEntry(old, entry);
  });
}

/**
 * What the store holds for the chat once `changed` (the result of `mergeChatPresence`) is written:
 * the stored entries with the changed participants replaced or added, ordered by participant as the
 * store lists them.
 */
export function withChanges(chatId: string, stored: ChatPresence | null, changed: readonly ParticipantPresence[]): ChatPresence {
  const entries = new Map<string, ParticipantPresence>();
  for (const entry of stored?.presences ?? []) entries.set(entry.participant, entry);
  for (const entry of changed) entries.set(entry.participant, entry);
  const presences = [...entries.values()].sort((a, b) => (a.participant < b.participant ? -1 : a.participant > b.participant ? 1 : 0));
  return { id: chatId, presences };
}

// @ts-check
import { enc, get } from './api.js';
import { connected, onEvent } from './live.js';
import { Store } from './store.js';

/**
 * One session's presence board: what it subscribed to (GET api/{s}/presence/subscriptions), what
 * it knows (GET api/{s}/presence), patched by presence.update events as they arrive.
 * @typedef {{ participant: string, lastKnownPresence: string, lastSeen: number | null }} Participant
 * @typedef {{ id: string, presences: Participant[] }} ChatPresence
 * @typedef {{ chatId: string, since: number | null }} Subscription
 * @typedef {{ session: string, subscriptions: Subscription[], presence: Record<string, ChatPresence>, lastEventAt: Record<string, number>, workingSince: number | null, loadedAt: number | null, error: string | null }} BoardState
 */

/** @type {Store<BoardState>} */
export const board = new Store(/** @type {BoardState} */ ({ session: '', subscriptions: [], presence: {}, lastEventAt: {}, workingSince: null, loadedAt: null, error: null }));

/** @param {string} session */
export async function loadBoard(session) {
  if (session === '') return;
  if (board.value.session !== session) board.set({ session, subscriptions: [], presence: {}, lastEventAt: {}, workingSince: null, loadedAt: null, error: null });
  try {
    const [subscriptions, presences] = await Promise.all([
      /** @type {Promise<Subscription[]>} */ (get(`api/${enc(session)}/presence/subscriptions`)),
      /** @type {Promise<ChatPresence[]>} */ (get(`api/${enc(session)}/presence`).catch(() => [])),
    ]);
    if (board.value.session !== session) return;
    /** @type {Record<string, ChatPresence>} */
    const presence = {};
    for (const chat of presences) presence[chat.id] = chat;
    board.set({ ...board.value, subscriptions, presence: { ...presence, ...liveOnly(board.value.presence, presence) }, loadedAt: Date.now(), error: null });
  } catch (error) {
    if (board.value.session === session) board.set({ ...board.value, error: error instanceof Error ? error.message : String(error) });
  }
}

/** Chats heard live that the (slightly older) REST answer did not know yet. @param {Record<string, ChatPresence>} live @param {Record<string, ChatPresence>} read */
function liveOnly(live, read) {
  return Object.fromEntries(Object.entries(live).filter(([id]) => read[id] === undefined));
}

/** When each chat of each session was last heard (live or backfilled), whichever session the board shows. */
const heard = new Map();

/** @param {string} session @param {string} chatId @returns {number | undefined} */
export function lastHeard(session, chatId) {
  return heard.get(`${session} ${chatId}`);
}

onEvent((envelope, backfill) => {
  if (envelope.event === 'presence.update') {
    const key = `${envelope.session} ${String(envelope.payload?.id)}`;
    heard.set(key, Math.max(heard.get(key) ?? 0, envelope.timestamp));
  }
  const state = board.value;
  if (envelope.session !== state.session) return;
  if (envelope.event === 'session.status') {
    if (envelope.payload?.status === 'WORKING') board.set({ ...state, workingSince: envelope.timestamp });
    return;
  }
  if (envelope.event !== 'presence.update') return;
  /** @type {ChatPresence} */
  const chat = envelope.payload;
  // The REST state is newer than a backfilled event: it only tells when the chat was last heard.
  if (backfill) return;
  const previous = state.presence[chat.id];
  // A group's update may name only the participants it is about: keep the others.
  const merged = previous === undefined || !chat.id.endsWith('@g.us')
    ? chat
    : { id: chat.id, presences: [...previous.presences.filter((p) => !chat.presences.some((n) => n.participant === p.participant)), ...chat.presences] };
  board.set({ ...state, presence: { ...state.presence, [chat.id]: merged }, lastEventAt: { ...state.lastEventAt, [chat.id]: envelope.timestamp } });
});

connected.subscribe(() => void loadBoard(board.value.session));

/**
 * The state shown for a participant, in words. "unknown": nothing heard yet. "hidden": they share
 * no last seen (`lastSeenHidden`, when the server reports WhatsApp's last="deny" apart). Offline
 * with no last seen and no such flag is "offline-unknown": the API does not say whether it is
 * hidden or was never given.
 * @param {(Participant & { lastSeenHidden?: boolean }) | undefined} p
 */
export function stateOf(p) {
  if (p === undefined) return 'unknown';
  if (p.lastKnownPresence === 'offline' && p.lastSeen === null) return p.lastSeenHidden === true ? 'hidden' : 'offline-unknown';
  return p.lastKnownPresence;
}

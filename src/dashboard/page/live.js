// @ts-check
import { get } from './api.js';
import { Store } from './store.js';

/**
 * One WebSocket for the whole page (`../ws`, every session and event), with the connection state
 * always visible. After every (re)connect it backfills from the server's recent events
 * (GET dashboard/api/events?after=<last id seen>), so a dropped connection or a reload leaves no gap:
 * the socket is open first, then the backfill is read, and events are de-duplicated by id.
 * Reconnects back off exponentially with jitter (never a tight retry loop).
 */

/**
 * @typedef {{ id: string, timestamp: number, event: string, session: string, payload: any }} Envelope
 * @typedef {{ state: 'connecting' | 'live' | 'reconnecting' | 'offline', retryAt: number | null, lastEventAt: number | null, gap: boolean }} LiveState
 * @typedef {(envelope: Envelope, backfill: boolean) => void} Listener
 */

/** @type {Store<LiveState>} */
export const liveState = new Store(/** @type {LiveState} */ ({ state: 'connecting', retryAt: null, lastEventAt: null, gap: false }));

/** Fired after every (re)connect, once the backfill is in: views reload their REST state then. */
export const connected = new Store(0);

/** @type {Set<Listener>} */
const listeners = new Set();
/** Ids already dispatched, bounded (ids sort by time, so the oldest are dropped first). */
const seen = new Set();
/** @type {string | null} */
let lastId = null;
/** @type {WebSocket | null} */
let socket = null;
let attempt = 0;
/** @type {ReturnType<typeof setTimeout> | null} */
let timer = null;
let stopped = false;

/** @param {Listener} listener */
export function onEvent(listener) {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

/** @param {Envelope} envelope @param {boolean} backfill */
function dispatch(envelope, backfill) {
  if (seen.has(envelope.id)) return;
  seen.add(envelope.id);
  if (seen.size > 5000) {
    const oldest = seen.values().next().value;
    seen.delete(oldest);
  }
  if (lastId === null || envelope.id > lastId) lastId = envelope.id;
  liveState.set({ ...liveState.value, lastEventAt: Date.now() });
  for (const listener of listeners) listener(envelope, backfill);
}

async function backfill() {
  const query = lastId === null ? 'limit=500' : `after=${lastId}&limit=2000`;
  /** @type {{ gap: boolean, events: Envelope[] }} */
  const answer = await get(`dashboard/api/events?${query}`);
  for (const envelope of answer.events) dispatch(envelope, true);
  if (answer.gap) liveState.set({ ...liveState.value, gap: true });
}

function wsUrl() {
  const target = new URL('../ws', document.baseURI);
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  return target.toString();
}

function schedule() {
  if (stopped) return;
  // 0.5 s, 1 s, 2 s … 15 s, each ± 50 %: many tabs after a server restart do not come back in step.
  const base = Math.min(15_000, 500 * 2 ** attempt);
  const delay = Math.round(base * (0.5 + Math.random()));
  attempt += 1;
  liveState.set({ ...liveState.value, state: 'reconnecting', retryAt: Date.now() + delay });
  timer = setTimeout(open, delay);
}

function open() {
  timer = null;
  if (stopped) return;
  const ws = new WebSocket(wsUrl());
  socket = ws;
  ws.addEventListener('open', () => {
    attempt = 0;
    liveState.set({ ...liveState.value, state: 'live', retryAt: null });
    backfill()
      .then(() => connected.set(connected.value + 1))
      .catch(() => {
        // The socket is open but the backfill failed (the server is going away): the close that follows reconnects.
        ws.close();
      });
  });
  ws.addEventListener('message', (message) => {
    try {
      dispatch(JSON.parse(String(message.data)), false);
    } catch (error) {
      console.warn('ignored a WebSocket message that is not an event', error);
    }
  });
  ws.addEventListener('close', () => {
    if (socket === ws) socket = null;
    schedule();
  });
}

export function start() {
  stopped = false;
  if (socket === null && timer === null) open();
}

/** Sign-out: no socket, no retries. */
export function stop() {
  stopped = true;
  if (timer !== null) clearTimeout(timer);
  timer = null;
  socket?.close();
  socket = null;
  liveState.set({ ...liveState.value, state: 'offline', retryAt: null });
}

/** Reconnect now (the badge's button), without waiting for the backoff. */
export function reconnectNow() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  attempt = 0;
  if (socket === null) open();
}

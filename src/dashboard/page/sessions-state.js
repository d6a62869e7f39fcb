// @ts-check
import { get } from './api.js';
import { connected, onEvent } from './live.js';
import { Store } from './store.js';

/**
 * The sessions as the page knows them: the list from GET api/sessions?all=true, kept live by
 * session.status events (each patches its row at once, then the list is read again, which also
 * drops a session deleted by another client), and when each entered its status (from the event's
 * timestamp; null when the status predates the events this server still remembers).
 * @typedef {{ name: string, status: string, me: { id: string, pushName: string | null } | null, config: any, worker?: string, reason?: string }} SessionInfo
 * @typedef {{ list: SessionInfo[], since: Record<string, number>, qrVersion: Record<string, number>, loadedAt: number | null, error: string | null }} SessionsState
 */

/** @type {Store<SessionsState>} */
export const sessions = new Store(/** @type {SessionsState} */ ({ list: [], since: {}, qrVersion: {}, loadedAt: null, error: null }));

/** @type {ReturnType<typeof setTimeout> | null} */
let pending = null;

export async function reloadSessions() {
  try {
    /** @type {SessionInfo[]} */
    const list = await get('api/sessions?all=true');
    list.sort((a, b) => a.name.localeCompare(b.name));
    sessions.set({ ...sessions.value, list, loadedAt: Date.now(), error: null });
  } catch (error) {
    sessions.set({ ...sessions.value, error: error instanceof Error ? error.message : String(error) });
  }
}

function reloadSoon() {
  if (pending !== null) clearTimeout(pending);
  pending = setTimeout(() => {
    pending = null;
    void reloadSessions();
  }, 250);
}

onEvent((envelope, backfill) => {
  if (envelope.event !== 'session.status') return;
  const status = String(envelope.payload?.status ?? '');
  const state = sessions.value;
  const since = { ...state.since, [envelope.session]: envelope.timestamp };
  const qrVersion = status === 'SCAN_QR_CODE' ? { ...state.qrVersion, [envelope.session]: (state.qrVersion[envelope.session] ?? 0) + 1 } : state.qrVersion;
  const list = backfill ? state.list : state.list.map((row) => (row.name === envelope.session ? { ...row, status, ...(envelope.payload?.reason === undefined ? {} : { reason: envelope.payload.reason }) } : row));
  sessions.set({ ...state, list, since, qrVersion });
  if (!backfill) reloadSoon();
});

connected.subscribe(() => void reloadSessions());
// A session deleted by another client sends no event of its own: the list is read again now and then.
setInterval(() => {
  if (document.visibilityState === 'visible') void reloadSessions();
}, 5000);

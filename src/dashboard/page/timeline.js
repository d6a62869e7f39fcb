// @ts-check
import { useEffect, useState } from 'preact/hooks';
import { ApiError, enc, get } from './api.js';
import { duration, shortId, time } from './format.js';
import { html } from './html.js';

/**
 * Online intervals of a contact or of a group's participants, from the presence-history route
 * (GET api/{s}/presence/{chat}/history?from=&to=, Unix seconds), as bars over 1 h / 24 h / 7 d.
 * Gaps (the server was not listening) are drawn as gaps, not as "offline".
 * @typedef {{ from: number, to: number, seconds: number, open: boolean }} Interval
 * @typedef {{ participant: string, online: Interval[], onlineSeconds: number, gaps: { from: number, to: number }[] }} ParticipantHistory
 * @typedef {{ id: string, from: number, to: number, participants: ParticipantHistory[] }} History
 */

const RANGES = /** @type {const} */ ([['1 h', 3600], ['24 h', 86400], ['7 d', 604800]]);

/**
 * The history recorder writes in batches (~100 ms): a change heard on the board is in the history
 * shortly after, so the timeline asks again that long after each one, and twice more, later, for a
 * busy server whose batch took longer.
 */
const REFRESH_AFTER_MS = 600;
const LATER_MS = [1500, 4000];
const GROW_EVERY_MS = 30_000;

/** @param {{ session: string, chatId: string, heard: number }} props `heard`: when the board last heard of this chat (ms) */
export function Timeline({ session, chatId, heard }) {
  const [range, setRange] = useState(3600);
  const [history, setHistory] = useState(/** @type {History | null} */ (null));
  const [problem, setProblem] = useState(/** @type {{ kind: 'off' | 'error', message: string } | null} */ (null));

  useEffect(() => {
    let cancelled = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let again;
    /** @param {readonly number[]} later the waits of the next looks for a change just heard */
    const load = (later) => {
      const askedAt = Date.now();
      const to = Math.floor(askedAt / 1000);
      get(`api/${enc(session)}/presence/${enc(chatId)}/history?from=${to - range}&to=${to}`)
        .then((/** @type {History} */ answer) => {
          if (cancelled) return;
          setProblem(null);
          setHistory(answer);
          // Something heard just before we asked may still be in the recorder's batch: ask again.
          const [wait, ...rest] = later;
          if (wait !== undefined) again = setTimeout(() => load(rest), wait);
        })
        .catch((error) => {
          if (cancelled) return;
          setHistory(null);
          if (error instanceof ApiError && (error.status === 409 || error.status === 422)) setProblem({ kind: 'off', message: error.message });
          else if (error instanceof ApiError && error.status === 404 && error.code === 'NOT_FOUND') setProblem({ kind: 'off', message: 'this server has no presence history' });
          else setProblem({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
        });
    };
    // The first load at once; a refresh after something was heard waits for the recorder's batch.
    const opening = history === null;
    const recent = heard > Date.now() - REFRESH_AFTER_MS - LATER_MS.reduce((a, b) => a + b, 0);
    const later = recent ? (opening ? [REFRESH_AFTER_MS, ...LATER_MS] : LATER_MS) : [];
    const timer = setTimeout(() => load(later), opening ? 0 : REFRESH_AFTER_MS);
    // An open interval grows with the clock, not with events.
    const growing = setInterval(() => load([]), GROW_EVERY_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
      clearTimeout(again);
      clearInterval(growing);
    };
  }, [session, chatId, range, heard]);

  return html`<div class="timeline">
    <div class="tabs" role="group" aria-label="Time range">
      ${RANGES.map(([label, seconds]) => html`<button aria-pressed=${range === seconds} onClick=${() => setRange(seconds)}>${label}</button>`)}
    </div>
    ${problem?.kind === 'off'
      ? html`<p class="note">No timeline: presence history is off for this session (${problem.message}). Turn it on with <code>WA_PRESENCE_HISTORY=true</code> for the server, or the session config <code>presenceHistory.enabled: true</code>.</p>`
      : problem !== null
        ? html`<p class="error">${problem.message}</p>`
        : history === null
          ? html`<p class="muted">loading…</p>`
          : history.participants.length === 0
            ? html`<p class="muted">Nothing recorded in this range.</p>`
            : history.participants.map((p) => html`<div class="track-row" key=${p.participant}>
                <span class="who small">${shortId(p.participant)}</span>
                <div class="track" role="img" aria-label=${`${shortId(p.participant)}: online ${duration(p.onlineSeconds)} of ${duration(history.to - history.from)}`}>
                  ${p.gaps.map((g) => html`<span class="gap" title=${`no data ${time(g.from * 1000)}–${time(g.to * 1000)}`} style=${span(history, g.from, g.to)}></span>`)}
                  ${p.online.map((o) => html`<span class="bar" title=${`online ${time(o.from * 1000)}–${o.open ? 'now' : time(o.to * 1000)} (${duration(o.seconds)})`} style=${span(history, o.from, o.to)}></span>`)}
                </div>
                <span class="small muted">${duration(p.onlineSeconds)} online</span>
              </div>`)}
    ${history === null ? null : html`<div class="axis small muted"><span>${time(history.from * 1000)}</span><span>${time(history.to * 1000)}</span></div>
      <p class="legend small muted"><span><span class="swatch online"></span>online</span><span><span class="swatch offline"></span>offline</span><span><span class="swatch gap"></span>not listening (session not WORKING or server down)</span></p>`}
  </div>`;
}

/** Position of [from, to] in the track, as CSSOM properties (no style attribute: the CSP forbids inline styles). @param {History} h @param {number} from @param {number} to */
function span(h, from, to) {
  const total = Math.max(1, h.to - h.from);
  const left = Math.max(0, (from - h.from) / total) * 100;
  const width = Math.max(0.3, (Math.min(to, h.to) - Math.max(from, h.from)) / total * 100);
  return { left: `${left}%`, width: `${width}%` };
}

// @ts-check
import { useState } from 'preact/hooks';
import { shortId, time } from './format.js';
import { html } from './html.js';
import { liveState, onEvent } from './live.js';
import { navigate, route } from './route.js';
import { Store } from './store.js';

/**
 * The live tail of every event, with the backfill the live module reads after each (re)connect,
 * in id order. Bounded: the page keeps the last KEEP events and shows at most SHOW rows.
 */
const KEEP = 2000;
const SHOW = 300;

/** @type {Store<import('./live.js').Envelope[]>} */
export const stream = new Store(/** @type {import('./live.js').Envelope[]} */ ([]));

onEvent((envelope) => {
  const list = stream.value;
  const last = list[list.length - 1];
  // Live events arrive in order; a backfilled one may be older than the newest shown: put it in its place.
  const next = last === undefined || last.id < envelope.id ? [...list, envelope] : [...list, envelope].sort((a, b) => (a.id < b.id ? -1 : 1));
  stream.set(next.length > KEEP ? next.slice(next.length - KEEP) : next);
});

/** @param {import('./live.js').Envelope} e */
function chatOf(e) {
  return e.event === 'presence.update' ? String(e.payload?.id ?? '') : '';
}

/** @param {import('./live.js').Envelope} e */
function summary(e) {
  if (e.event === 'session.status') return `${e.payload?.status}${e.payload?.reason ? ` — ${e.payload.reason}` : ''}`;
  if (e.event === 'presence.update') {
    const chat = String(e.payload?.id ?? '');
    // A contact's own presence needs no name again; a group's names who.
    return (e.payload?.presences ?? []).map((/** @type {any} */ p) => (p.participant === chat ? String(p.lastKnownPresence) : `${shortId(String(p.participant))} ${p.lastKnownPresence}`)).join(', ');
  }
  return '';
}

export function StreamView() {
  const r = route.use();
  const all = stream.use();
  const live = liveState.use();
  const [paused, setPaused] = useState(/** @type {string | null} */ (null));
  const matching = all.filter((e) => (r.session === '' || e.session === r.session) && (r.event === '' || e.event === r.event) && (r.chat === '' || chatOf(e) === r.chat));
  // Paused: show what was there when pausing (by id), while events keep arriving underneath.
  const visible = (paused === null ? matching : matching.filter((e) => e.id <= paused)).slice(-SHOW).reverse();
  const sessionsSeen = [...new Set(all.map((e) => e.session))].sort();

  /** @param {'session' | 'event' | 'chat'} key @returns {(e: Event) => void} */
  const filter = (key) => (e) => navigate({ [key]: /** @type {HTMLInputElement} */ (e.currentTarget).value.trim() });

  return html`<section aria-labelledby="stream-title">
    <div class="section-head">
      <h2 id="stream-title">Events</h2>
      <span class="muted small">${matching.length} matching of ${all.length} kept · newest first</span>
    </div>
    ${live.gap ? html`<p class="note">Some events may be missing: the server's recent-events buffer had moved on while this page was disconnected.</p>` : null}
    <form class="filters" onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
      <label for="filter-session">Session</label><select id="filter-session" value=${r.session} onChange=${filter('session')}>
        <option value="">all</option>${[...new Set([...sessionsSeen, ...(r.session === '' ? [] : [r.session])])].map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
      <label for="filter-event">Event</label><select id="filter-event" value=${r.event} onChange=${filter('event')}>
        <option value="">all</option><option value="presence.update">presence.update</option><option value="session.status">session.status</option>
      </select>
      <label for="filter-chat">Chat</label><input id="filter-chat" value=${r.chat} placeholder="4915550001@c.us" onChange=${filter('chat')} />
      <button type="button" aria-pressed=${paused !== null} onClick=${() => setPaused(paused === null ? (all[all.length - 1]?.id ?? '') : null)}>${paused === null ? 'Pause' : 'Resume'}</button>
    </form>
    ${visible.length === 0 ? html`<p class="empty">No event${r.session || r.event || r.chat ? ' matches these filters' : ' yet'}.</p>` : html`<ol class="stream">${visible.map((e) => html`<li key=${e.id} data-event-id=${e.id} class=${`ev ev-${e.event.replace('.', '-')}`}>
      <details>
        <summary><time>${time(e.timestamp)}</time> <span class="ev-name">${e.event}</span> <span class="ev-session">${e.session}</span>
          ${chatOf(e) === '' ? null : html`<span class="ev-chat">${shortId(chatOf(e))}</span>`} <span class="ev-summary">${summary(e)}</span></summary>
        <pre>${JSON.stringify(e, null, 2)}</pre>
      </details>
    </li>`)}</ol>`}
  </section>`;
}

// @ts-check
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, enc, post } from './api.js';
import { ago, clock, duration, shortId } from './format.js';
import { html } from './html.js';
import { navigate, route } from './route.js';
import { actAs, addSandboxContact, addSandboxGroup, animate } from './sandbox.js';
import { board, lastHeard, loadBoard, stateOf } from './board-state.js';
import { sessions } from './sessions-state.js';
import { now } from './store.js';
import { Timeline } from './timeline.js';

const WORDS = /** @type {Record<string, string>} */ ({
  online: 'online', typing: 'typing…', recording: 'recording…', paused: 'paused', offline: 'offline',
  unknown: 'unknown — nothing heard yet', hidden: 'hidden — last seen not shared', 'offline-unknown': 'offline — last seen not known',
});

/** @param {{ state: string }} props */
function PresenceChip({ state }) {
  return html`<span class=${`chip presence-${state}`} data-presence=${state}>${WORDS[state] ?? state}</span>`;
}

/** @param {{ lastSeen: number | null, state: string, tick: number }} props */
function LastSeen({ lastSeen, state, tick }) {
  if (state === 'online' || state === 'typing' || state === 'recording') return html`<span class="muted">now</span>`;
  if (lastSeen === null) return html`<span class="muted">—</span>`;
  return html`<time datetime=${new Date(lastSeen * 1000).toISOString()} title=${clock(lastSeen * 1000)}>${ago(lastSeen * 1000, tick)}</time>`;
}

/** Sandbox groups made on this page, with their members, so "make them move" knows who acts. */
const groupMembers = /** @type {Record<string, string[]>} */ ({});

/** The presence board of one session. @param {{ sandbox: boolean }} props */
export function BoardView({ sandbox }) {
  const r = route.use();
  const all = sessions.use();
  const state = board.use();
  const tick = now.use();
  const [ids, setIds] = useState('');
  const [message, setMessage] = useState(/** @type {string | null} */ (null));
  const stopMoving = useRef(/** @type {(() => void) | null} */ (null));
  const [moving, setMoving] = useState(false);
  const [timeline, setTimeline] = useState(/** @type {string | null} */ (null));
  const session = r.session !== '' ? r.session : (all.list.find((s) => s.status === 'WORKING')?.name ?? all.list[0]?.name ?? '');
  const info = all.list.find((s) => s.name === session);
  const me = info?.me?.id ?? null;

  useEffect(() => void loadBoard(session), [session]);
  useEffect(() => () => stopMoving.current?.(), []);

  /** @param {string} what @param {() => Promise<unknown>} action */
  async function run(what, action) {
    setMessage(null);
    try {
      await action();
    } catch (error) {
      setMessage(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
    await loadBoard(session);
  }

  /** @param {Event} event */
  function subscribe(event) {
    event.preventDefault();
    const wanted = ids.split(/[\s,;]+/).filter((id) => id !== '');
    void run('subscribe', async () => {
      const failed = [];
      for (const id of wanted) {
        try {
          await post(`api/${enc(session)}/presence/${enc(id)}/subscribe`);
        } catch (error) {
          failed.push(`${id}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      setIds('');
      if (failed.length > 0) throw new Error(failed.join('; '));
    });
  }

  function toggleMoving() {
    stopMoving.current?.();
    stopMoving.current = null;
    if (moving || me === null) {
      setMoving(false);
      return;
    }
    stopMoving.current = animate(() => board.value.subscriptions.map((s) => ({ chatId: s.chatId, participants: groupMembers[s.chatId] ?? (s.chatId.endsWith('@g.us') ? [] : [s.chatId]) })), me);
    setMoving(true);
  }

  if (all.loadedAt !== null && info === undefined) {
    return html`<section><h2>Presence board</h2><p class="empty">${session === '' ? 'No session yet: create one on the Sessions tab.' : `There is no session “${session}” (any more).`}</p></section>`;
  }
  const working = info?.status === 'WORKING';
  const workingSince = working ? (state.workingSince ?? all.since[session] ?? null) : null;
  return html`<section aria-labelledby="board-title">
    <div class="section-head">
      <h2 id="board-title">Presence board</h2>
      <label for="board-session" class="sr-only">Session</label>
      <select id="board-session" value=${session} onChange=${(/** @type {Event} */ e) => navigate({ session: /** @type {HTMLSelectElement} */ (e.currentTarget).value })}>
        ${all.list.map((s) => html`<option value=${s.name}>${s.name} (${s.status})</option>`)}
      </select>
      <span class="muted small">${workingSince === null ? '' : `WORKING for ${duration(Math.max(0, Math.floor((tick - workingSince) / 1000)))}`}</span>
    </div>
    ${working ? null : html`<p class="note">The session is ${info?.status ?? '…'}: presence arrives only while it is WORKING; subscriptions are kept and renewed when it is.</p>`}
    <form class="inline" onSubmit=${subscribe}>
      <label for="subscribe-ids">Subscribe to</label>
      <input id="subscribe-ids" placeholder="4915550001@c.us, 1203630…@g.us" value=${ids} onInput=${(/** @type {InputEvent} */ e) => setIds(/** @type {HTMLInputElement} */ (e.currentTarget).value)} />
      <button type="submit" class="primary" disabled=${ids.trim() === ''}>Subscribe</button>
    </form>
    ${sandbox && working && me !== null ? html`<div class="sandbox-bar" role="group" aria-label="Sandbox">
      <span class="badge">sandbox</span>
      <button onClick=${() => run('add a sandbox contact', () => addSandboxContact(session))}>Add a sandbox contact</button>
      <button onClick=${() => run('add a sandbox group', async () => {
        const group = await addSandboxGroup(session, me);
        groupMembers[group.id] = group.members;
      })}>Add a sandbox group</button>
      <button aria-pressed=${moving} onClick=${toggleMoving}>${moving ? 'Stop moving' : 'Make them move'}</button>
    </div>` : null}
    ${message === null ? null : html`<p class="error" role="alert">${message}</p>`}
    ${state.error === null ? null : html`<p class="error" role="alert">${state.error}</p>`}
    ${state.loadedAt !== null && state.subscriptions.length === 0
      ? html`<p class="empty">Not subscribed to anyone yet. Subscribe to a contact or a group above${sandbox ? ', or add a sandbox contact.' : '.'}</p>`
      : html`<ul class="board" aria-live="polite">${state.subscriptions.map((sub) => {
          const chat = state.presence[sub.chatId];
          const isGroup = sub.chatId.endsWith('@g.us');
          const lastEvent = lastHeard(session, sub.chatId);
          const renewed = workingSince !== null && lastEvent !== undefined && lastEvent >= workingSince;
          const p = isGroup ? undefined : chat?.presences[0];
          const st = isGroup ? groupState(chat) : stateOf(p);
          return html`<li key=${sub.chatId} class="contact" data-chat=${sub.chatId}>
            <div class="contact-main">
              ${isGroup ? html`<span class="kind">group</span>` : null}<span class="who">${shortId(sub.chatId)}</span>
              <${PresenceChip} state=${st} />
              ${isGroup ? null : html`<span class="last-seen">last seen <${LastSeen} lastSeen=${p?.lastSeen ?? null} state=${st} tick=${tick} /></span>`}
            </div>
            <div class="health muted small">
              subscribed ${sub.since === null ? '' : ago(sub.since, tick)} ·
              ${lastEvent === undefined ? ' no event heard recently' : ` last event ${ago(lastEvent, tick)}`}
              ${workingSince === null ? null : html` · <span class=${renewed ? 'ok' : 'warn'}>${renewed ? '✓ renewed: heard since the last reconnect' : 'waiting for a first event since the last reconnect'}</span>`}
            </div>
            <div class="row-actions">
              ${sandbox && !isGroup && working ? html`<button class="small" onClick=${() => run('typing', () => actAs(sub.chatId, sub.chatId, 'typing', me ?? ''))}>make it type</button>` : null}
              <button class="small" onClick=${() => setTimeline(timeline === sub.chatId ? null : sub.chatId)} aria-expanded=${timeline === sub.chatId}>timeline</button>
              <button class="small danger" onClick=${() => run('unsubscribe', () => del(`api/${enc(session)}/presence/${enc(sub.chatId)}/subscribe`))}>unsubscribe</button>
            </div>
            ${isGroup ? html`<details class="participants" open>
              <summary>${chat === undefined || chat.presences.length === 0 ? 'participants: nobody heard yet' : `${chat.presences.length} participant${chat.presences.length === 1 ? '' : 's'} heard`}</summary>
              <ul>${(chat?.presences ?? []).map((member) => html`<li key=${member.participant} data-participant=${member.participant}>
                <span class="who">${shortId(member.participant)}</span> <${PresenceChip} state=${stateOf(member)} />
                <span class="last-seen muted small">last seen <${LastSeen} lastSeen=${member.lastSeen} state=${stateOf(member)} tick=${tick} /></span></li>`)}</ul>
            </details>` : null}
            ${timeline === sub.chatId ? html`<${Timeline} session=${session} chatId=${sub.chatId} heard=${lastEvent ?? 0} />` : null}
          </li>`;
        })}</ul>`}
  </section>`;
}

/** A group's chip: the liveliest of its participants. @param {import('./board-state.js').ChatPresence | undefined} chat */
function groupState(chat) {
  if (chat === undefined || chat.presences.length === 0) return 'unknown';
  for (const state of ['typing', 'recording', 'online', 'paused']) if (chat.presences.some((p) => stateOf(p) === state)) return state;
  return 'offline';
}

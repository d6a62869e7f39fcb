// @ts-check
import { useState } from 'preact/hooks';
import { del, enc, post } from './api.js';
import { ago, duration, shortId } from './format.js';
import { html } from './html.js';
import { PairingDialog } from './pairing.js';
import { navigate } from './route.js';
import { reloadSessions, sessions } from './sessions-state.js';
import { now } from './store.js';

/** @param {{ status: string }} props */
export function StatusChip({ status }) {
  return html`<span class=${`chip status-${status.toLowerCase()}`}>${status.replaceAll('_', ' ')}</span>`;
}

/** The sessions table: status chips with their age, live; the lifecycle actions next to each. @param {{ sandbox: boolean }} props */
export function SessionsView({ sandbox }) {
  const state = sessions.use();
  const tick = now.use();
  const [name, setName] = useState('');
  const [message, setMessage] = useState(/** @type {string | null} */ (null));
  const [pairing, setPairing] = useState(/** @type {string | null} */ (null));

  /** @param {string} what @param {() => Promise<unknown>} action */
  async function run(what, action) {
    setMessage(null);
    try {
      await action();
    } catch (error) {
      setMessage(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
    await reloadSessions();
  }

  /** @param {Event} event */
  function create(event) {
    event.preventDefault();
    const wanted = name.trim();
    void run(`create “${wanted || 'default'}”`, async () => {
      await post('api/sessions', wanted === '' ? { start: true } : { name: wanted, start: true });
      setName('');
    });
  }

  return html`<section aria-labelledby="sessions-title">
    <div class="section-head">
      <h2 id="sessions-title">Sessions</h2>
      <span class="muted">${state.loadedAt === null ? 'loading…' : `${state.list.length} session${state.list.length === 1 ? '' : 's'}, read ${ago(state.loadedAt, tick)}`}</span>
    </div>
    <form class="inline" onSubmit=${create}>
      <label for="new-session">New session</label>
      <input id="new-session" placeholder="name (default)" value=${name}
        onInput=${(/** @type {InputEvent} */ e) => setName(/** @type {HTMLInputElement} */ (e.currentTarget).value)} />
      <button type="submit" class="primary">Create and start</button>
    </form>
    ${message === null ? null : html`<p class="error" role="alert">${message}</p>`}
    ${state.error === null ? null : html`<p class="error" role="alert">${state.error}</p>`}
    ${state.list.length === 0 && state.loadedAt !== null
      ? html`<p class="empty">No session yet. Create one above${sandbox ? ': in sandbox mode it pairs by itself and is WORKING in a few seconds.' : ', then scan its QR code.'}</p>`
      : html`<div class="table-wrap"><table class="sessions">
          <thead><tr><th scope="col">Session</th><th scope="col">Status</th><th scope="col">Account</th><th scope="col">Actions</th></tr></thead>
          <tbody>${state.list.map((row) => {
            const since = state.since[row.name];
            const s = enc(row.name);
            return html`<tr key=${row.name} data-session=${row.name}>
              <th scope="row"><a href=${`?view=board&session=${s}`} onClick=${(/** @type {MouseEvent} */ e) => { e.preventDefault(); navigate({ view: 'board', session: row.name }); }}>${row.name}</a>
                ${row.worker === undefined ? null : html`<div class="muted small">on ${row.worker}</div>`}</th>
              <td><${StatusChip} status=${row.status} />
                <div class="muted small">${since === undefined ? '' : `for ${duration(Math.max(0, Math.floor((tick - since) / 1000)))}`}</div>
                ${row.reason === undefined ? null : html`<div class="reason small">${row.reason}</div>`}</td>
              <td>${row.me === null ? html`<span class="muted">not paired</span>` : html`${shortId(row.me.id)}${row.me.pushName === null ? '' : html` <span class="muted">(${row.me.pushName})</span>`}`}</td>
              <td><div class="actions">
                ${row.status === 'SCAN_QR_CODE' ? html`<button class="primary" onClick=${() => setPairing(row.name)}>Pair…</button>` : null}
                ${row.status === 'STOPPED' || row.status === 'FAILED' ? html`<button onClick=${() => run('start', () => post(`api/sessions/${s}/start`))}>Start</button>` : html`<button onClick=${() => run('stop', () => post(`api/sessions/${s}/stop`))}>Stop</button>`}
                <button onClick=${() => run('restart', () => post(`api/sessions/${s}/restart`))}>Restart</button>
                <button onClick=${() => confirm(`Log “${row.name}” out? It has to be paired again.`) && run('logout', () => post(`api/sessions/${s}/logout`))}>Logout</button>
                <button class="danger" onClick=${() => confirm(`Delete “${row.name}” and its stored data?`) && run('delete', () => del(`api/sessions/${s}`))}>Delete</button>
              </div></td>
            </tr>`;
          })}</tbody>
        </table></div>`}
    ${pairing === null ? null : html`<${PairingDialog} session=${pairing} sandbox=${sandbox} onClose=${() => setPairing(null)} />`}
  </section>`;
}

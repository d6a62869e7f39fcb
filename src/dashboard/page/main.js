// @ts-check
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, onSignedOut, request, rootPath } from './api.js';
import { BoardView } from './board.js';
import { ago } from './format.js';
import { html } from './html.js';
import { liveState, reconnectNow, start, stop } from './live.js';
import { navigate, route } from './route.js';
import { SessionsView } from './sessions.js';
import { SignIn } from './signin.js';
import { now } from './store.js';
import { StreamView } from './stream.js';
import { WebhooksView } from './webhooks.js';

/** What the server put in the shell: its version, whether it runs the sandbox. */
const meta = /** @type {{ version: string, sandbox: boolean, server: string }} */ (
  JSON.parse(document.querySelector('meta[name="wa-presence"]')?.getAttribute('content') ?? '{}')
);

const VIEWS = /** @type {const} */ ([['sessions', 'Sessions'], ['board', 'Presence'], ['events', 'Events'], ['webhooks', 'Webhooks']]);

function LiveBadge() {
  const live = liveState.use();
  const tick = now.use();
  const text = live.state === 'live' ? 'live'
    : live.state === 'reconnecting' ? `reconnecting${live.retryAt === null ? '' : ` in ${Math.max(0, Math.ceil((live.retryAt - tick) / 1000))} s`}`
      : live.state;
  return html`<span class=${`live live-${live.state}`} role="status" aria-live="polite">
    <span class="dot" aria-hidden="true"></span>${text}
    ${live.lastEventAt === null ? null : html`<span class="muted small"> · last event ${ago(live.lastEventAt, tick)}</span>`}
    ${live.state === 'reconnecting' ? html` <button class="small" onClick=${reconnectNow}>now</button>` : null}
  </span>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(/** @type {boolean | null} */ (null));
  const r = route.use();

  useEffect(() => {
    get('dashboard/session').then(() => setSignedIn(true), () => setSignedIn(false));
    return onSignedOut(() => setSignedIn(false));
  }, []);
  useEffect(() => {
    if (signedIn === true) start();
    else stop();
  }, [signedIn]);

  async function signOut() {
    await request('DELETE', 'dashboard/session', { path: rootPath() }).catch(() => undefined);
    setSignedIn(false);
  }

  if (signedIn === null) return html`<p class="muted center">Loading…</p>`;
  if (!signedIn) return html`<${SignIn} onSignedIn=${() => setSignedIn(true)} />`;
  return html`<div class="shell">
    <header>
      <span class="brand">wa-presence</span>
      ${meta.sandbox ? html`<span class="badge" title="Sessions talk to the local sandbox network, not to WhatsApp">sandbox</span>` : null}
      <${LiveBadge} />
      <button class="signout" onClick=${signOut}>Sign out</button>
    </header>
    <nav aria-label="Views"><ul>${VIEWS.map(([id, label]) => html`<li><a href=${`?view=${id}`} aria-current=${r.view === id ? 'page' : undefined}
      onClick=${(/** @type {MouseEvent} */ e) => { e.preventDefault(); navigate({ view: id, chat: '', event: '' }); }}>${label}</a></li>`)}</ul></nav>
    <main>
      ${r.view === 'board' ? html`<${BoardView} sandbox=${meta.sandbox} />`
        : r.view === 'events' ? html`<${StreamView} />`
          : r.view === 'webhooks' ? html`<${WebhooksView} />`
            : html`<${SessionsView} sandbox=${meta.sandbox} />`}
    </main>
    <footer class="muted small">wa-presence ${meta.version} · server ${meta.server}</footer>
  </div>`;
}

const root = document.getElementById('app');
if (root !== null) render(html`<${App} />`, root);

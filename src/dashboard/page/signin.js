// @ts-check
import { useState } from 'preact/hooks';
import { ApiError, request, rootPath } from './api.js';
import { html } from './html.js';

/**
 * Sign in with the API key: sent once in the X-Api-Key header; the server answers with an HttpOnly
 * cookie. The key is not kept anywhere by the page (no storage, no URL).
 * @param {{ onSignedIn: () => void }} props
 */
export function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);

  /** @param {Event} event */
  async function submit(event) {
    event.preventDefault();
    if (key.trim() === '') {
      setError('Type the API key first.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await request('POST', 'dashboard/session', { path: rootPath() }, { 'x-api-key': key.trim() });
      setKey('');
      onSignedIn();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) {
        setError('Wrong API key: the server refused it. Use the value of WHATSAPP_API_KEY (or the key the server printed at its first start).');
      } else {
        setError(failure instanceof Error ? failure.message : String(failure));
      }
    } finally {
      setBusy(false);
    }
  }

  return html`<main class="signin">
    <form class="card" onSubmit=${submit}>
      <h1>wa-presence</h1>
      <p class="muted">Sign in with the server's API key. The browser keeps only a sign-in cookie, never the key.</p>
      <label for="api-key">API key</label>
      <input id="api-key" name="api-key" type="password" autocomplete="current-password" value=${key}
        onInput=${(/** @type {InputEvent} */ e) => setKey(/** @type {HTMLInputElement} */ (e.currentTarget).value)} autofocus />
      ${error === null ? null : html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

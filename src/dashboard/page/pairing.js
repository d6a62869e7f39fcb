// @ts-check
import { useEffect, useRef, useState } from 'preact/hooks';
import { enc, get, post, url } from './api.js';
import { html } from './html.js';
import { sessions } from './sessions-state.js';
import { now } from './store.js';

/**
 * The pairing dialog, fed by push: every session.status SCAN_QR_CODE brings a new QR, which
 * replaces the shown one and restarts the countdown (WhatsApp: 60 s for the first, 20 s for each
 * later one). The dialog closes itself when the session reaches WORKING.
 * @param {{ session: string, sandbox: boolean, onClose: () => void }} props
 */
export function PairingDialog({ session, sandbox, onClose }) {
  const state = sessions.use();
  const tick = now.use();
  const ref = useRef(/** @type {HTMLDialogElement | null} */ (null));
  const version = state.qrVersion[session] ?? 0;
  const row = state.list.find((item) => item.name === session);
  const [shownAt, setShownAt] = useState(Date.now());
  const [tab, setTab] = useState('qr');
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState(/** @type {string | null} */ (null));
  const [message, setMessage] = useState(/** @type {string | null} */ (null));

  useEffect(() => {
    ref.current?.showModal();
  }, []);
  useEffect(() => setShownAt(Date.now()), [version]);
  useEffect(() => {
    if (row?.status === 'WORKING') onClose();
  }, [row?.status]);

  const lifetime = version <= 1 ? 60 : 20;
  const left = Math.max(0, lifetime - Math.floor((tick - shownAt) / 1000));

  async function requestCode() {
    setMessage(null);
    try {
      const answer = await post(`api/${enc(session)}/auth/request-code`, { phoneNumber: phone });
      setCode(String(answer.code));
    } catch (error) {
      setMessage(error instanceof Error ? error.message : String(error));
    }
  }

  async function sandboxScan() {
    setMessage(null);
    try {
      const raw = await get(`api/${enc(session)}/auth/qr?format=raw`);
      await post('api/sandbox/scan', { qr: raw.value });
      setMessage('Scanned by a new sandbox phone: the session goes WORKING in a moment.');
    } catch (error) {
      setMessage(error instanceof Error ? error.message : String(error));
    }
  }

  const waiting = row?.status !== 'SCAN_QR_CODE';
  return html`<dialog ref=${ref} class="pairing" aria-labelledby="pairing-title" onClose=${onClose}>
    <h2 id="pairing-title">Pair “${session}”</h2>
    <div class="tabs" role="tablist">
      <button role="tab" aria-selected=${tab === 'qr'} onClick=${() => setTab('qr')}>Scan QR</button>
      <button role="tab" aria-selected=${tab === 'code'} onClick=${() => setTab('code')}>Pair by code</button>
    </div>
    ${tab === 'qr'
      ? html`<div class="qr">
          ${waiting
            ? html`<p class="muted">Waiting for a QR code (status ${row?.status ?? 'unknown'})…</p>`
            : html`<img alt="QR code to scan with WhatsApp → Linked devices" src=${url(`api/${enc(session)}/auth/qr?format=image&v=${version}`)} width="240" height="240" />
                <p class=${left === 0 ? 'error' : 'muted'} aria-live="polite">${left === 0 ? 'This QR has expired; a new one follows if the session keeps trying.' : `QR #${version} — expires in ${left} s`}</p>`}
          <p class="muted">WhatsApp on the phone → Linked devices → Link a device.</p>
          ${sandbox ? html`<button onClick=${sandboxScan} disabled=${waiting}>Scan with a sandbox phone</button>` : null}
        </div>`
      : html`<div class="code">
          <label for="pair-phone">Phone number (international, digits only)</label>
          <input id="pair-phone" inputmode="numeric" value=${phone} onInput=${(/** @type {InputEvent} */ e) => setPhone(/** @type {HTMLInputElement} */ (e.currentTarget).value)} />
          <button onClick=${requestCode} disabled=${waiting || phone === ''}>Get a pairing code</button>
          ${code === null ? null : html`<p class="pair-code" aria-live="polite">${code}</p><p class="muted">Phone: Linked devices → Link a device → Link with phone number instead, then type this code.</p>`}
        </div>`}
    ${message === null ? null : html`<p class="note" role="status">${message}</p>`}
    <div class="actions"><button onClick=${onClose}>Close</button></div>
  </dialog>`;
}

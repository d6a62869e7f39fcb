// @ts-check
import { useEffect, useState } from 'preact/hooks';
import { enc, get, post } from './api.js';
import { ago, clock } from './format.js';
import { html } from './html.js';
import { navigate, route } from './route.js';
import { sessions } from './sessions-state.js';
import { now } from './store.js';

/**
 * A session's webhooks and their deliveries (GET api/{s}/webhooks/deliveries), read every 2 s
 * while shown (deliveries are not pushed): pending, failed, attempts, last status, next retry;
 * replay of one or all failed; a backlog gauge; a banner when a receiver keeps failing.
 * @typedef {{ id: number, eventId: string, event: string, url: string, status: string, attempts: number, lastError: string | null, lastStatus: number | null, nextAttemptAt: number | null, createdAt: number, updatedAt: number, deliveredAt: number | null }} Delivery
 */

const BACKLOG_SCALE = 1000;

export function WebhooksView() {
  const r = route.use();
  const all = sessions.use();
  const tick = now.use();
  const session = r.session !== '' ? r.session : (all.list[0]?.name ?? '');
  const info = all.list.find((s) => s.name === session);
  const [deliveries, setDeliveries] = useState(/** @type {Delivery[]} */ ([]));
  const [pending, setPending] = useState(0);
  const [readAt, setReadAt] = useState(/** @type {number | null} */ (null));
  const [message, setMessage] = useState(/** @type {string | null} */ (null));

  async function read() {
    if (session === '') return;
    try {
      const [list, open] = await Promise.all([
        /** @type {Promise<Delivery[]>} */ (get(`api/${enc(session)}/webhooks/deliveries?limit=100`)),
        /** @type {Promise<Delivery[]>} */ (get(`api/${enc(session)}/webhooks/deliveries?status=pending&limit=500`)),
      ]);
      setDeliveries(list);
      setPending(open.length);
      setReadAt(Date.now());
    } catch (error) {
      setMessage(error instanceof Error ? error.message : String(error));
    }
  }

  useEffect(() => {
    void read();
    const timer = setInterval(() => void read(), 2000);
    return () => clearInterval(timer);
  }, [session]);

  /** @param {number[]} ids */
  async function replay(ids) {
    setMessage(null);
    const failures = [];
    for (const id of ids) {
      try {
        await post(`api/${enc(session)}/webhooks/deliveries/${id}/replay`);
      } catch (error) {
        failures.push(`${id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    setMessage(failures.length === 0 ? `Replayed ${ids.length} deliver${ids.length === 1 ? 'y' : 'ies'}.` : `Replay failed for ${failures.join('; ')}`);
    await read();
  }

  /** @param {string} target */
  async function sendTest(target) {
    setMessage(null);
    try {
      const answer = await post(`dashboard/api/sessions/${enc(session)}/webhooks/test`, { url: target });
      setMessage(`Test event ${String(answer.eventId)} queued for ${target}: its delivery shows below.`);
    } catch (error) {
      setMessage(`Test event: ${error instanceof Error ? error.message : String(error)}`);
    }
    await read();
  }

  const webhooks = /** @type {{ url: string, events: string[] }[]} */ (info?.config?.webhooks ?? []);
  // A replay is a new delivery of the same event: a failed one replayed since is not "failed" any more.
  /** @type {Map<number, number>} */
  const replayedAs = new Map();
  for (const d of deliveries) {
    const later = deliveries.find((n) => n.id > d.id && n.eventId === d.eventId && n.url === d.url);
    if (later !== undefined) replayedAs.set(d.id, later.id);
  }
  const failed = deliveries.filter((d) => d.status === 'failed' && !replayedAs.has(d.id));
  const failing = failingReceivers(deliveries.filter((d) => !replayedAs.has(d.id)));
  return html`<section aria-labelledby="webhooks-title">
    <div class="section-head">
      <h2 id="webhooks-title">Webhooks</h2>
      <label for="webhooks-session" class="sr-only">Session</label>
      <select id="webhooks-session" value=${session} onChange=${(/** @type {Event} */ e) => navigate({ session: /** @type {HTMLSelectElement} */ (e.currentTarget).value })}>
        ${all.list.map((s) => html`<option value=${s.name}>${s.name}</option>`)}
      </select>
      <span class="muted small">${readAt === null ? '' : `read ${ago(readAt, tick)}`}</span>
    </div>
    ${failing.map((f) => html`<p class="banner" role="alert">Receiver ${f.url} has been failing since ${clock(f.since)} (${f.count} failed or retrying deliveries${f.lastStatus === null ? '' : `, last answer HTTP ${f.lastStatus}`}).</p>`)}
    ${webhooks.length === 0 ? html`<p class="empty">This session has no webhook. Add one with PUT api/sessions/${session} ({"config": {"webhooks": [{"url": …, "events": ["*"]}]}}).</p>`
      : html`<ul class="webhooks">${webhooks.map((w) => html`<li><code>${w.url}</code> <span class="muted small">${w.events.join(', ')}</span>
          <button class="small" onClick=${() => sendTest(w.url)}>Send test event</button></li>`)}</ul>`}
    <div class="gauge" role="meter" aria-label="Webhook backlog" aria-valuemin="0" aria-valuemax=${BACKLOG_SCALE} aria-valuenow=${pending}>
      <span>Backlog: <strong>${pending}${pending >= 500 ? '+' : ''}</strong> pending</span>
      <meter min="0" max=${BACKLOG_SCALE} low="50" high="500" optimum="0" value=${pending}></meter>
    </div>
    <div class="inline">
      <button class="primary" disabled=${failed.length === 0} onClick=${() => replay(failed.map((d) => d.id))}>Replay all failed (${failed.length})</button>
    </div>
    ${message === null ? null : html`<p class="note" role="status">${message}</p>`}
    ${deliveries.length === 0 ? html`<p class="empty">No delivery yet.</p>` : html`<div class="table-wrap"><table class="deliveries">
      <thead><tr><th scope="col">#</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Next retry</th><th scope="col"></th></tr></thead>
      <tbody>${deliveries.map((d) => html`<tr key=${d.id} data-delivery=${d.id} data-status=${d.status}>
        <td>${d.id}</td>
        <td>${d.event}<div class="muted small">${d.url}</div></td>
        <td><span class=${`chip delivery-${d.status}`}>${d.status}</span>${replayedAs.has(d.id) ? html`<div class="muted small">replayed as #${replayedAs.get(d.id)}</div>` : null}</td>
        <td>${d.attempts}</td>
        <td>${d.lastStatus === null ? (d.lastError ?? '—') : `HTTP ${d.lastStatus}`}${d.lastError !== null && d.lastStatus !== null ? html`<div class="muted small">${d.lastError}</div>` : null}</td>
        <td>${d.nextAttemptAt === null ? '—' : d.nextAttemptAt <= tick ? 'due now' : `in ${Math.ceil((d.nextAttemptAt - tick) / 1000)} s`}</td>
        <td>${d.status === 'pending' ? null : html`<button class="small" onClick=${() => replay([d.id])}>Replay</button>`}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

/**
 * Receivers whose newest delivery failed or is being retried, and since when (the oldest of that run).
 * @param {Delivery[]} deliveries newest first
 */
function failingReceivers(deliveries) {
  /** @type {Map<string, { url: string, since: number, count: number, lastStatus: number | null, done: boolean }>} */
  const byUrl = new Map();
  for (const d of deliveries) {
    const bad = d.status === 'failed' || (d.status === 'pending' && d.attempts > 0);
    const entry = byUrl.get(d.url);
    if (entry === undefined) {
      byUrl.set(d.url, { url: d.url, since: d.createdAt, count: bad ? 1 : 0, lastStatus: d.lastStatus, done: !bad });
    } else if (!entry.done) {
      if (bad) {
        entry.since = d.createdAt;
        entry.count += 1;
      } else entry.done = true;
    }
  }
  return [...byUrl.values()].filter((e) => e.count > 0);
}

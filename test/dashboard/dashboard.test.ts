import { mkdir, copyFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ReceiverDouble } from '../events/receiver-double.js';
import { ARTEFACTS, api, guardedPage, launchBrowser, startSandboxServer } from './harness.js';
import type { GuardedPage, SandboxServer } from './harness.js';
import { poll } from '../support/poll.js';

/**
 * Issue 15 in a real browser (Debian's Chromium through playwright-core) against the real server
 * (`src/main.ts` with the embedded sandbox), driven as a person would: by the labels and buttons.
 */

const SESSION = 'dash';
let server: SandboxServer;
let browser: Browser;
let user: GuardedPage;
let page: Page;
let me = '';
const receiver = new ReceiverDouble();

async function shot(name: string, target: Page = page): Promise<void> {
  await mkdir(ARTEFACTS, { recursive: true });
  await target.screenshot({ path: join(ARTEFACTS, `${name}.png`), fullPage: true });
}

async function sandbox(method: string, path: string, body?: unknown): Promise<unknown> {
  return api(server, method, `/api/sandbox${path}`, body);
}

async function view(name: 'Sessions' | 'Presence' | 'Events' | 'Webhooks'): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name }).click();
}

beforeAll(async () => {
  // History on for the server (the timelines read it); one session below turns it off for itself.
  [server, browser] = await Promise.all([startSandboxServer({ WA_PRESENCE_HISTORY: 'true' }), launchBrowser()]);
  await receiver.start();
  user = await guardedPage(browser, server.url);
  page = user.page;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await receiver.stop();
});

describe('the dashboard in a browser', () => {
  it('refuses a wrong API key with a clear message on the form, then signs in with the right one', async () => {
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong API key' }).waitFor();
    await shot('signin-wrong-key');
    await page.getByLabel('API key').fill(server.apiKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    const cookies = await user.context.cookies();
    const cookie = cookies.find((c) => c.name === 'wa_presence_dashboard');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    expect(cookie?.value).not.toContain(server.apiKey);
    // The key is nowhere the page's scripts can read it back.
    const stored = String(await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href + document.cookie'));
    expect(stored).not.toContain(server.apiKey);
  });

  it('creates a session and shows it reach WORKING, live', async () => {
    await page.getByLabel('New session').fill(SESSION);
    await page.getByRole('button', { name: 'Create and start' }).click();
    await page.locator(`tr[data-session="${SESSION}"] .chip`, { hasText: 'WORKING' }).waitFor({ timeout: 20_000 });
    const info = await api<{ me: { id: string } }>(server, 'GET', `/api/sessions/${SESSION}`);
    me = info.me.id;
    await shot('sessions');
  });

  it('shows a sandbox contact typing within 1 s', async () => {
    await page.locator(`tr[data-session="${SESSION}"] a`, { hasText: SESSION }).click();
    await page.getByRole('heading', { name: 'Presence board' }).waitFor();
    await page.getByRole('button', { name: 'Add a sandbox contact' }).click();
    const row = page.locator('li.contact').first();
    await row.waitFor();
    const chatId = await row.getAttribute('data-chat');
    expect(chatId).toMatch(/@c\.us$/);
    const phone = String(chatId).split('@')[0];
    await sandbox('POST', `/contacts/${phone}/presence`, { presence: 'online' });
    await row.locator('[data-presence="online"]').waitFor({ timeout: 10_000 });
    const started = Date.now();
    await sandbox('POST', `/contacts/${phone}/presence`, { presence: 'typing', chatId: me });
    await row.locator('[data-presence="typing"]').waitFor({ timeout: 1000 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('shows a group participant going online', async () => {
    const members = ['4915550077001', '4915550077002'];
    for (const phone of members) await sandbox('POST', '/contacts', { phone, name: `Member ${phone.slice(-1)}` });
    const group = (await sandbox('POST', '/groups', { subject: 'Board test', participants: [me, ...members.map((p) => `${p}@c.us`)] })) as { id: string };
    // Subscribe by keyboard: type the id, press Enter.
    await page.getByLabel('Subscribe to').fill(group.id);
    await page.keyboard.press('Enter');
    const row = page.locator(`li.contact[data-chat="${group.id}"]`);
    await row.waitFor();
    await sandbox('POST', `/contacts/${members[0]}/presence`, { presence: 'online' });
    await sandbox('POST', `/contacts/${members[0]}/presence`, { presence: 'typing', chatId: group.id });
    await row.locator(`[data-participant="${members[0]}@c.us"] [data-presence="typing"]`).waitFor({ timeout: 5000 });
    await shot('board');
  });

  it('shows a failed delivery when the receiver is down, and delivers it on replay once it is back', async () => {
    await api(server, 'PUT', `/api/sessions/${SESSION}`, {
      config: { webhooks: [{ url: receiver.url, events: ['presence.update'], retries: { policy: 'constant', delaySeconds: 0, attempts: 0 } }] },
    });
    await page.locator('header .live-live').waitFor();
    await api(server, 'POST', '/api/sandbox/contacts', { phone: '4915550088001', name: 'Hook' });
    await eventuallyWorking();
    await api(server, 'POST', `/api/${SESSION}/presence/4915550088001@c.us/subscribe`);
    const port = receiver.port;
    await receiver.stop();
    await sandbox('POST', '/contacts/4915550088001/presence', { presence: 'online' });
    await view('Webhooks');
    const failedRow = page.locator('tr[data-status="failed"]').first();
    await failedRow.waitFor({ timeout: 15_000 });
    const failedId = Number(await failedRow.getAttribute('data-delivery'));
    await page.getByRole('alert').filter({ hasText: 'has been failing since' }).waitFor();
    await shot('webhooks-failing');
    await receiver.start(port);
    const before = receiver.requests.length;
    await page.getByRole('button', { name: /Replay all failed/ }).click();
    // The replay is a new delivery (a higher id) that reaches the receiver and shows as delivered.
    await until(async () => {
      const delivered = await page.locator('tr[data-status="delivered"]').all();
      const ids = await Promise.all(delivered.map((row) => row.getAttribute('data-delivery')));
      return ids.some((id) => Number(id) > failedId);
    }, 'the replayed delivery shown as delivered');
    expect(receiver.requests.length).toBeGreaterThan(before);
    await page.getByRole('alert').filter({ hasText: 'has been failing since' }).waitFor({ state: 'detached', timeout: 5000 });
    // "Send test event": a webhook.test delivery reaches the receiver and is listed as delivered.
    const count = receiver.requests.length;
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event evt_' }).waitFor();
    await until(() => Promise.resolve(receiver.requests.slice(count).some((r) => (r.body as { event?: string }).event === 'webhook.test')), 'the test event at the receiver');
    await page.locator('tr[data-status="delivered"]', { hasText: 'webhook.test' }).waitFor({ timeout: 10_000 });
    await shot('webhooks');
  });

  it('misses no event of a burst when the page reloads in the middle of it', async () => {
    await page.goto(`${server.url}/dashboard/?view=events&session=${SESSION}&event=presence.update`);
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    // What the server sent, seen by a second client that stays connected throughout.
    const seen: string[] = [];
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?session=${SESSION}&events=presence.update`, { headers: { 'x-api-key': server.apiKey } });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.on('message', (data: Buffer) => seen.push((JSON.parse(data.toString()) as { id: string }).id));
    const burst = (async () => {
      for (let i = 0; i < 40; i += 1) {
        await sandbox('POST', '/contacts/4915550088001/presence', { presence: i % 2 === 0 ? 'offline' : 'online' });
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await page.reload();
    await burst;
    await new Promise((resolve) => setTimeout(resolve, 500));
    ws.close();
    expect(seen.length).toBeGreaterThan(10);
    // The filters came back from the URL.
    expect(await page.locator('#filter-event').inputValue()).toBe('presence.update');
    expect(await page.locator('#filter-session').inputValue()).toBe(SESSION);
    for (const id of seen) await page.locator(`li[data-event-id="${id}"]`).waitFor({ state: 'attached', timeout: 5000 });
    await shot('events');
  });

  it('refuses the cookie on a page of another origin, for REST and /ws', async () => {
    const other: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end('<!doctype html><title>other origin</title>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
      const evil = await user.context.newPage();
      await evil.goto(otherUrl);
      // Same site (127.0.0.1), so the browser sends the SameSite=Strict cookie: the server must refuse it.
      const outcome = await evil.evaluate(`(async () => {
        const rest = await fetch(${JSON.stringify(`${server.url}/api/sessions`)}, { credentials: 'include' }).then(() => 'read', () => 'blocked');
        const ws = await new Promise((resolve) => {
          const socket = new WebSocket(${JSON.stringify(`${server.url.replace('http', 'ws')}/ws`)});
          socket.onopen = () => { socket.close(); resolve('open'); };
          socket.onclose = () => resolve('refused');
        });
        return { rest, ws };
      })()`);
      // CORS hides the REST answer from that page anyway; the WebSocket has no CORS: only the Origin check refuses it.
      expect(outcome).toEqual({ rest: 'blocked', ws: 'refused' });
      // What the server answers such a request (the browser's cookie, the other page's Origin).
      const cookie = (await user.context.cookies()).find((c) => c.name === 'wa_presence_dashboard');
      const refused = await fetch(`${server.url}/api/sessions`, { headers: { cookie: `${cookie?.name}=${cookie?.value}`, origin: otherUrl.slice(0, -1) } });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { message: string }).message).toContain('only accepted from');
      await evil.close();
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
    // From the dashboard's own origin the same cookie works.
    const own = await page.evaluate(`fetch('../api/sessions').then((r) => r.status)`);
    expect(own).toBe(200);
  });

  it('pairs a session through the dialog fed by push, which closes itself on WORKING', async () => {
    await view('Sessions');
    await api(server, 'POST', '/api/sessions', { name: 'pairme', config: { sandbox: { autoPair: false } } });
    const row = page.locator('tr[data-session="pairme"]');
    const qr = page.waitForResponse((response) => response.url().includes('/api/pairme/auth/qr?format=image'), { timeout: 20_000 });
    await row.getByRole('button', { name: 'Pair…' }).click({ timeout: 20_000 });
    const dialog = page.getByRole('dialog', { name: 'Pair “pairme”' });
    await dialog.getByRole('img', { name: /QR code/ }).waitFor();
    await dialog.getByText(/QR #\d+ — expires in \d+ s/).waitFor();
    const image = await qr;
    expect(image.status()).toBe(200);
    expect(image.headers()['content-type']).toBe('image/png');
    await shot('pairing');
    await dialog.getByRole('button', { name: 'Scan with a sandbox phone' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 20_000 });
    await row.locator('.chip', { hasText: 'WORKING' }).waitFor();
    await api(server, 'DELETE', '/api/sessions/pairme');
  });

  it('drops a session deleted by another client while the table shows it', async () => {
    await api(server, 'POST', '/api/sessions', { name: 'doomed', start: false });
    await view('Sessions');
    const row = page.locator('tr[data-session="doomed"]');
    await row.waitFor({ timeout: 10_000 });
    await api(server, 'DELETE', '/api/sessions/doomed');
    await row.waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('tells offline with a last seen, hidden, offline without one, and recording apart', async () => {
    await view('Presence');
    const contacts = { recording: '4915550066001', offline: '4915550066002', hidden: '4915550066003', unknown: '4915550066004' };
    for (const [kind, phone] of Object.entries(contacts)) {
      await sandbox('POST', '/contacts', { phone, name: kind, ...(kind === 'hidden' ? { lastSeenPrivacy: 'nobody' } : {}) });
    }
    await page.getByLabel('Subscribe to').fill(Object.values(contacts).map((phone) => `${phone}@c.us`).join(', '));
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    const row = (phone: string) => page.locator(`li.contact[data-chat="${phone}@c.us"]`);
    for (const phone of Object.values(contacts)) await row(phone).waitFor();
    await eventuallyWorking();
    for (const phone of [contacts.offline, contacts.hidden]) {
      await sandbox('POST', `/contacts/${phone}/presence`, { presence: 'online' });
      await row(phone).locator('[data-presence="online"]').waitFor({ timeout: 10_000 });
      await sandbox('POST', `/contacts/${phone}/presence`, { presence: 'offline' });
    }
    await sandbox('POST', `/contacts/${contacts.recording}/presence`, { presence: 'online' });
    await sandbox('POST', `/contacts/${contacts.recording}/presence`, { presence: 'recording', chatId: me });
    await row(contacts.recording).locator('[data-presence="recording"]').waitFor({ timeout: 10_000 });
    await row(contacts.offline).locator('[data-presence="offline"]').waitFor({ timeout: 10_000 });
    await row(contacts.offline).locator('time', { hasText: /ago|just now/ }).waitFor();
    // "Nobody may see it" (WhatsApp's last="deny") is told apart from "never heard a last seen".
    await row(contacts.hidden).locator('[data-presence="hidden"]', { hasText: 'hidden' }).waitFor({ timeout: 10_000 });
    await row(contacts.unknown).locator('[data-presence="offline-unknown"]').waitFor({ timeout: 10_000 });
  });

  it('draws a timeline of online intervals per contact and per group participant, with a gap while stopped', async () => {
    await view('Presence');
    const phone = '4915550099001';
    await sandbox('POST', '/contacts', { phone, name: 'Timeline' });
    await page.getByLabel('Subscribe to').fill(`${phone}@c.us`);
    await page.keyboard.press('Enter');
    const row = page.locator(`li.contact[data-chat="${phone}@c.us"]`);
    await row.waitFor();
    for (const presence of ['online', 'offline', 'online', 'offline'] as const) {
      await sandbox('POST', `/contacts/${phone}/presence`, { presence });
      await row.locator(`[data-presence="${presence}"]`).waitFor({ timeout: 10_000 });
    }
    // A stop and a start: the history records the time not listened to as a gap.
    await api(server, 'POST', `/api/sessions/${SESSION}/stop`);
    await api(server, 'POST', `/api/sessions/${SESSION}/start`);
    await eventuallyWorking();
    await sandbox('POST', `/contacts/${phone}/presence`, { presence: 'online' });
    await row.locator('[data-presence="online"]').waitFor({ timeout: 10_000 });

    await row.getByRole('button', { name: 'timeline' }).click();
    const track = row.locator('.timeline .track');
    await track.first().waitFor();
    expect(await track.first().getAttribute('aria-label')).toMatch(/: online \d+ s of 1 h 0 min$/);
    // One bar per online interval of the history route (the two quick cycles may merge when an
    // offline's last seen reaches past the next online), at least one before the stop and the one
    // still open after it; the stop drawn as a gap, not as "offline".
    // Both read again each time: the recorder writes in batches, so the route and the page may each
    // be a batch behind the board for a moment on a busy machine.
    const intervals = async (): Promise<number> => {
      const history = await api<{ participants: { online: unknown[] }[] }>(server, 'GET', `/api/${SESSION}/presence/${phone}@c.us/history?from=${Math.floor(Date.now() / 1000) - 3600}`);
      return history.participants[0]?.online.length ?? 0;
    };
    await until(async () => (await intervals()) >= 2, 'two online intervals in the history route');
    await until(async () => (await track.first().locator('.bar').count()) === (await intervals()), 'as many online bars as the route has intervals');
    await until(async () => (await track.first().locator('.gap').count()) >= 1, 'a gap for the stop');
    for (const range of ['24 h', '7 d', '1 h']) {
      await row.getByRole('button', { name: range, exact: true }).click();
      await row.getByRole('button', { name: range, exact: true }).and(page.locator('[aria-pressed="true"]')).waitFor();
      await track.first().locator('.bar').first().waitFor();
    }
    await shot('timeline');

    // A group: one track per participant heard.
    const group = (await api<{ chatId: string }[]>(server, 'GET', `/api/${SESSION}/presence/subscriptions`)).map((s) => s.chatId).find((id) => id.endsWith('@g.us'));
    expect(group).toBeDefined();
    await sandbox('POST', '/contacts/4915550077002/presence', { presence: 'online' });
    await sandbox('POST', '/contacts/4915550077002/presence', { presence: 'typing', chatId: group });
    const groupRow = page.locator(`li.contact[data-chat="${group}"]`);
    await groupRow.locator('[data-participant="4915550077002@c.us"] [data-presence="typing"]').waitFor({ timeout: 10_000 });
    await groupRow.getByRole('button', { name: 'timeline' }).first().click();
    await until(async () => (await groupRow.locator('.timeline .track-row').count()) >= 2, 'a track for each of two participants');
  }, 60_000);

  it('says how to turn history on for a session that has it off', async () => {
    await api(server, 'POST', '/api/sessions', { name: 'nohistory', config: { presenceHistory: { enabled: false } } });
    await eventuallyWorking('nohistory');
    await page.getByLabel('Session').selectOption('nohistory');
    await page.getByLabel('Subscribe to').fill('4915550099001@c.us');
    await page.keyboard.press('Enter');
    const row = page.locator('li.contact[data-chat="4915550099001@c.us"]');
    await row.waitFor({ timeout: 20_000 });
    // The board keeps the open timeline across sessions: open it only if it is closed.
    const toggle = row.getByRole('button', { name: 'timeline' });
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    await row.locator('.timeline .note', { hasText: 'presence history is off' }).filter({ hasText: 'WA_PRESENCE_HISTORY=true' }).waitFor();
    await page.getByLabel('Session').selectOption(SESSION);
  }, 60_000);

  it('reads at 400 px wide, is driven by keyboard, made no off-host request and logged no error', async () => {
    await view('Presence');
    await page.locator('li.contact').first().waitFor();
    await shot('board-wide');
    if (process.env.DASHBOARD_README_SCREENSHOT === '1') await copyFile(join(ARTEFACTS, 'board-wide.png'), join(process.cwd(), 'docs', 'dashboard.png'));
    await page.setViewportSize({ width: 400, height: 800 });
    for (const name of ['Presence', 'Sessions', 'Events', 'Webhooks'] as const) {
      await view(name);
      await page.waitForTimeout(200);
      const overflow = Number(await page.evaluate('document.documentElement.scrollWidth'));
      expect(overflow, `${name} at 400 px`).toBeLessThanOrEqual(400);
      await shot(`narrow-${name.toLowerCase()}`);
    }
    // Tab reaches the navigation and Enter follows a link.
    await page.setViewportSize({ width: 1200, height: 860 });
    await page.getByRole('navigation').getByRole('link', { name: 'Sessions' }).focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Presence board' }).waitFor();
    // Sign out forgets the cookie: the API refuses the page again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect((await user.context.cookies()).some((c) => c.name === 'wa_presence_dashboard')).toBe(false);
    expect(user.offHost).toEqual([]);
    expect(user.errors).toEqual([]);
  });
});

/** Polls the page (no string evaluation: the dashboard's CSP forbids eval, and the test keeps it so). */
async function until(holds: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  await poll(holds, (held) => held, { what, timeoutMs, everyMs: 100 });
}

async function eventuallyWorking(session = SESSION): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = await api<{ status: string }>(server, 'GET', `/api/sessions/${session}`);
    if (info.status === 'WORKING') return;
    if (Date.now() > deadline) throw new Error(`session ${session} is ${info.status}, not WORKING`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

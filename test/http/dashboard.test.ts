import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clockAt } from '../../src/clock.js';
import { makeEnvelope } from '../../src/events/envelope.js';
import { TEST_ENVIRONMENT } from '../support/recording-publisher.js';
import type { Hub } from '../../src/events/hub.js';
import { checkDashboardToken, DASHBOARD_COOKIE, mintDashboardToken, readCookie } from '../../src/http/cookie-auth.js';
import { API_KEY, httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';

const ORIGIN = 'http://localhost:3000';
const HOST = 'localhost:3000';

/** The server with the dashboard as createServer registers it; `hub` is the server's own event hub. */
async function dashboardApp(env: Record<string, string> = {}): Promise<HttpHarness & { hub: Hub }> {
  const app = await httpHarness(env);
  return { ...app, hub: app.app.events.hub };
}

async function signIn(app: HttpHarness, origin = ORIGIN): Promise<string> {
  const response = await app.server.inject({ method: 'POST', url: '/dashboard/session', headers: { 'x-api-key': API_KEY, origin, host: HOST }, payload: {} });
  expect(response.statusCode).toBe(201);
  const cookie = String(response.headers['set-cookie']);
  const token = readCookie(cookie.split(';')[0], DASHBOARD_COOKIE);
  if (token === null) throw new Error(`no cookie in ${cookie}`);
  return token;
}

describe('dashboard cookie tokens', () => {
  it('are bound to the key, the origin and an expiry, and hold no key', () => {
    const token = mintDashboardToken('k1', ORIGIN, 1000);
    expect(token).not.toContain('k1');
    expect(checkDashboardToken('k1', token, 2000)).toEqual({ ok: true, origin: ORIGIN });
    expect(checkDashboardToken('k2', token, 2000).ok).toBe(false);
    expect(checkDashboardToken('k1', token, 1000 + 12 * 3600 * 1000)).toEqual({ ok: false, reason: 'the dashboard sign-in expired: sign in again' });
    const forged = token.replace(Buffer.from(ORIGIN).toString('base64url'), Buffer.from('http://evil').toString('base64url'));
    expect(checkDashboardToken('k1', forged, 2000).ok).toBe(false);
    expect(checkDashboardToken('k1', 'garbage', 2000).ok).toBe(false);
  });
});

describe('dashboard routes', () => {
  it('serves the shell with a strict CSP that allows exactly its import map, and relative URLs', async () => {
    const app = await dashboardApp();
    expect((await app.server.inject({ url: '/dashboard' })).headers.location).toBe('dashboard/');
    const shell = await app.server.inject({ url: '/dashboard/' });
    expect(shell.statusCode).toBe(200);
    const csp = String(shell.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'self'; script-src 'self' 'sha256-[^']+'/);
    const map = /<script type="importmap">(.*?)<\/script>/.exec(shell.body)?.[1] ?? '';
    expect(csp).toContain(`'sha256-${createHash('sha256').update(map).digest('base64')}'`);
    // The import map is the only inline script; everything else is a file under /dashboard/, relative.
    expect(shell.body.match(/<script/g)?.length).toBe(2);
    expect(shell.body).not.toMatch(/(src|href)="\/|https?:\/\//);
    expect(shell.body).not.toContain('<base');
    for (const path of ['app/main.js', 'app/styles.css', 'vendor/preact.mjs', 'vendor/hooks.mjs', 'vendor/htm.mjs']) {
      const asset = await app.server.inject({ url: `/dashboard/${path}` });
      expect(asset.statusCode, path).toBe(200);
      expect(asset.headers['content-security-policy']).toBe(csp);
    }
    expect((await app.server.inject({ url: '/dashboard/app/..%2Fpage%2Fmain.js' })).statusCode).toBe(404);
    expect((await app.server.inject({ url: '/dashboard/vendor/preact.js' })).statusCode).toBe(404);
  });

  it('renders the base path of WAHA_BASE_URL into the shell and the cookie path', async () => {
    const app = await dashboardApp({ WAHA_BASE_URL: 'https://example.com/waha/' });
    const shell = await app.server.inject({ url: '/dashboard/' });
    expect(shell.body).toContain('<base href="/waha/dashboard/">');
    const signedIn = await app.server.inject({ method: 'POST', url: '/dashboard/session', headers: { 'x-api-key': API_KEY, origin: 'https://example.com' } });
    expect(signedIn.statusCode).toBe(201);
    expect(String(signedIn.headers['set-cookie'])).toMatch(/Path=\/waha\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
  });

  it('is off with WA_PRESENCE_DASHBOARD=false', async () => {
    const app = await dashboardApp({ WA_PRESENCE_DASHBOARD: 'false' });
    expect((await app.server.inject({ url: '/dashboard/' })).statusCode).toBe(404);
    expect((await app.request('POST', '/dashboard/session', {}, { origin: ORIGIN })).statusCode).toBe(404);
  });

  it('signs in with the key only, from its own origin, and the cookie then opens the API from that origin only', async () => {
    const app = await dashboardApp();
    const wrong = await app.server.inject({ method: 'POST', url: '/dashboard/session', headers: { 'x-api-key': 'nope', origin: ORIGIN, host: HOST } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const foreign = await app.server.inject({ method: 'POST', url: '/dashboard/session', headers: { 'x-api-key': API_KEY, origin: 'http://evil.example', host: HOST } });
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json<{ message: string }>().message).toContain('Origin');

    const token = await signIn(app);
    const cookie = `${DASHBOARD_COOKIE}=${token}`;
    const get = (headers: Record<string, string>) => app.server.inject({ url: '/api/sessions', headers: { cookie, ...headers } });
    expect((await get({ origin: ORIGIN })).statusCode).toBe(200);
    // A same-origin GET may come without Origin (navigation); an unsafe method may not.
    expect((await get({})).statusCode).toBe(200);
    const other = await get({ origin: 'http://localhost:8080' });
    expect(other.statusCode).toBe(401);
    expect(other.json<{ message: string }>().message).toBe(`the dashboard cookie is only accepted from ${ORIGIN}, this request comes from http://localhost:8080`);
    const noOrigin = await app.server.inject({ method: 'POST', url: '/api/sessions', headers: { cookie }, payload: { name: 'x' } });
    expect(noOrigin.statusCode).toBe(401);
    const tampered = await app.server.inject({ url: '/api/sessions', headers: { cookie: `${cookie}x`, origin: ORIGIN } });
    expect(tampered.statusCode).toBe(401);
    expect((await app.server.inject({ url: '/dashboard/session', headers: { cookie, origin: ORIGIN } })).statusCode).toBe(200);

    const out = await app.server.inject({ method: 'DELETE', url: '/dashboard/session', payload: { path: '/' } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toBe(`${DASHBOARD_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    const badPath = await app.server.inject({ method: 'DELETE', url: '/dashboard/session', payload: { path: 'x; Domain=evil' } });
    expect(badPath.statusCode).toBe(400);
  });

  it("reads the server's clock for the sign-in's expiry and for the cookie's check", async () => {
    let now = 1_000_000_000_000;
    const app = await httpHarness({}, { clock: clockAt(() => now) });
    const response = await app.server.inject({ method: 'POST', url: '/dashboard/session', headers: { 'x-api-key': API_KEY, origin: ORIGIN, host: HOST }, payload: {} });
    expect(response.json<{ expiresAt: number }>().expiresAt).toBe(now + 12 * 3600 * 1000);
    const cookie = String(response.headers['set-cookie']).split(';')[0];
    const get = () => app.server.inject({ url: '/api/sessions', headers: { cookie, origin: ORIGIN } });
    now += 12 * 3600 * 1000 - 1;
    expect((await get()).statusCode).toBe(200);
    now += 1;
    const expired = await get();
    expect(expired.statusCode).toBe(401);
    expect(expired.json<{ message: string }>().message).toBe('the dashboard sign-in expired: sign in again');
  });

  it('backfills the recent events after an id, filtered, and refuses a malformed query', async () => {
    const app = await dashboardApp();
    const source = { session: 's1', metadata: null, me: null, engine: 'NOWEB' as const };
    const envelopes = [
      makeEnvelope('session.status', { name: 's1', status: 'WORKING', statuses: [{ status: 'WORKING', timestamp: 1000 }] }, source, TEST_ENVIRONMENT, 1000),
      makeEnvelope('presence.update', { id: '1@c.us', presences: [] }, source, TEST_ENVIRONMENT, 2000),
      makeEnvelope('presence.update', { id: '2@c.us', presences: [] }, { ...source, session: 's2' }, TEST_ENVIRONMENT, 3000),
    ];
    for (const e of envelopes) app.hub.publish(e.session, e.event, JSON.stringify(e));
    const read = async (query: string) => (await app.request('GET', `/dashboard/api/events?${query}`)).json<{ gap: boolean; events: { id: string }[] }>();
    expect((await read('')).events.map((e) => e.id)).toEqual(envelopes.map((e) => e.id));
    expect((await read(`after=${envelopes[0]?.id}`)).events.map((e) => e.id)).toEqual([envelopes[1]?.id, envelopes[2]?.id]);
    expect((await read('session=s1&event=presence.update')).events.map((e) => e.id)).toEqual([envelopes[1]?.id]);
    expect((await read('chat=2@c.us')).events.map((e) => e.id)).toEqual([envelopes[2]?.id]);
    expect((await read('limit=1')).events.map((e) => e.id)).toEqual([envelopes[2]?.id]);
    expect((await read(`after=evt_${'0'.repeat(26)}`)).gap).toBe(true);
    const bad = await app.request('GET', '/dashboard/api/events?event=nope');
    expect(bad.statusCode).toBe(400);
    expect((await app.server.inject({ url: '/dashboard/api/events' })).statusCode).toBe(401);
  });
});

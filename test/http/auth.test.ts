import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// One app for the file; each test gets its own session (q1, q2, …) waiting for a scan.
let app: HttpHarness;
const cleanups: (() => Promise<void>)[] = [];
let sessions = 0;

async function scanning() {
  const h = app;
  const name = `q${(sessions += 1)}`;
  await h.request('POST', '/api/sessions', { name });
  const engine = h.engines.latest(name);
  engine.status('SCAN_QR_CODE');
  engine.qr('2@abc,def,ghi');
  await h.sessions.settled(name);
  return { h, engine, q: `/api/${name}` };
}

describe('auth routes', () => {
  beforeAll(async () => {
    app = await httpHarness({}, {}, (fn) => cleanups.push(fn));
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('GET auth/qr answers a PNG by default, the raw value with format=raw, base64 JSON when asked', async () => {
    const { h, q } = await scanning();
    const png = await h.request('GET', `${q}/auth/qr`);
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8)).toEqual(PNG_SIGNATURE);

    const raw = await h.request('GET', `${q}/auth/qr?format=raw`);
    expect(raw.json()).toEqual({ value: '2@abc,def,ghi' });

    const base64 = await h.request('GET', `${q}/auth/qr?format=image`, undefined, { accept: 'application/json' });
    const body = base64.json<{ mimetype: string; data: string }>();
    expect(body.mimetype).toBe('image/png');
    expect(Buffer.from(body.data, 'base64').subarray(0, 8)).toEqual(PNG_SIGNATURE);
  });

  it('GET auth/qr keeps the latest QR value', async () => {
    const { h, engine, q } = await scanning();
    engine.qr('2@second');
    await h.sessions.settled(q.slice(5));
    expect((await h.request('GET', `${q}/auth/qr?format=raw`)).json()).toEqual({ value: '2@second' });
  });

  it('GET auth/qr outside SCAN_QR_CODE is a 422 with the status; a bad format a 400; an unknown session a 404', async () => {
    const { h, engine, q } = await scanning();
    engine.working();
    await h.sessions.settled(q.slice(5));
    const working = await h.request('GET', `${q}/auth/qr`);
    expect(working.statusCode).toBe(422);
    expect(working.json()).toMatchObject({ code: 'QR_NOT_AVAILABLE', status: 'WORKING' });
    const format = await h.request('GET', `${q}/auth/qr?format=svg`);
    expect(format.statusCode).toBe(400);
    expect(format.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: 'query.format must be one of: image, raw' });
    expect((await h.request('GET', '/api/none/auth/qr')).statusCode).toBe(404);
  });

  it('POST auth/request-code returns the pairing code for the phone number', async () => {
    const { h, engine, q } = await scanning();
    const response = await h.request('POST', `${q}/auth/request-code`, { phoneNumber: '+12132132130', method: 'sms' });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toEqual({ code: engine.pairingCode });
    expect(engine.callsOf('requestPairingCode')).toEqual([{ method: 'requestPairingCode', phoneNumber: '12132132130' }]);
  });

  it('POST auth/request-code refuses a bad number (400), a session not scanning (422) and an unknown one (404)', async () => {
    const { h, engine, q } = await scanning();
    const bad = await h.request('POST', `${q}/auth/request-code`, { phoneNumber: '12-34' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'phoneNumber' });
    const missing = await h.request('POST', `${q}/auth/request-code`, {});
    expect(missing.json()).toMatchObject({ statusCode: 400, message: 'phoneNumber is required' });
    engine.working();
    await h.sessions.settled(q.slice(5));
    const working = await h.request('POST', `${q}/auth/request-code`, { phoneNumber: '12132132130' });
    expect(working.statusCode).toBe(422);
    expect(working.json()).toMatchObject({ code: 'PAIRING_NOT_AVAILABLE', status: 'WORKING' });
    expect((await h.request('POST', '/api/none/auth/request-code', { phoneNumber: '12132132130' })).statusCode).toBe(404);
    expect(engine.callsOf('requestPairingCode')).toEqual([]);
  });
});

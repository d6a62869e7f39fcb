import { describe, expect, it } from 'vitest';
import { httpHarness } from '../support/http.js';

const A = '15550000002@c.us';

describe('presence history over HTTP (fake engine, SQLite)', () => {
  it('validates config.presenceHistory, naming the field', async () => {
    const http = await httpHarness();
    for (const presenceHistory of [{ retentionDays: 0 }, { retentionDays: 366 }, { retentionDays: 1.5 }, { enabled: 'yes' }, { keep: true }]) {
      const refused = await http.request('POST', '/api/sessions', { name: 'bad', start: false, config: { presenceHistory } });
      expect([refused.statusCode, refused.json<{ code: string }>().code, refused.json<{ message: string }>().message]).toEqual([
        400,
        'VALIDATION_FAILED',
        expect.stringContaining('config.presenceHistory') as unknown,
      ]);
    }
    const accepted = await http.request('POST', '/api/sessions', { name: 'good', start: false, config: { presenceHistory: { enabled: true, retentionDays: 365 } } });
    expect(accepted.statusCode).toBe(201);
  });

  it('records every session with WA_PRESENCE_HISTORY=true, and a session config turns it off', async () => {
    const http = await httpHarness({ WA_PRESENCE_HISTORY: 'true' });
    const engine = await http.working('default');
    engine.presence(A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    engine.presence(A, [{ participant: A, lastKnownPresence: 'offline', lastSeen: null }]);
    await http.sessions.settled('default');
    let body: { participants: { participant: string; changes: { presence: string }[]; online: unknown[] }[] } | null = null;
    // Written in the background, at most 100 ms after the change.
    for (let tries = 0; tries < 100; tries += 1) {
      const got = await http.request('GET', `/api/default/presence/${A}/history`);
      expect(got.statusCode).toBe(200);
      body = got.json();
      if ((body?.participants[0]?.changes.length ?? 0) >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(body?.participants[0]?.changes.map((change) => change.presence)).toEqual(['online', 'offline']);
    expect(body?.participants[0]?.online).toHaveLength(1);
    await http.request('POST', '/api/sessions', { name: 'private', start: false, config: { presenceHistory: { enabled: false } } });
    const off = await http.request('GET', `/api/private/presence/${A}/history`);
    expect([off.statusCode, off.json<{ code: string }>().code]).toEqual([409, 'HISTORY_DISABLED']);
  });

  it('refuses a participant that is not a contact id', async () => {
    const http = await httpHarness({ WA_PRESENCE_HISTORY: 'true' });
    await http.request('POST', '/api/sessions', { name: 's', start: false });
    for (const participant of ['nope', '456@g.us']) {
      const got = await http.request('GET', `/api/s/presence/123@g.us/history?participant=${participant}`);
      expect([got.statusCode, got.json<{ code: string; field: string }>()]).toEqual([400, expect.objectContaining({ code: 'INVALID_CHAT_ID', field: 'query.participant' }) as unknown]);
    }
  });
});

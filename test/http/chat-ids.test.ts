import { describe, expect, it } from 'vitest';
import { httpHarness } from '../support/http.js';

describe('phone-number chat ids a client sends', () => {
  it('refuses a typo (123@c.us) with 400 INVALID_CHAT_ID on every route that subscribes or sends, and subscribes nothing', async () => {
    const h = await httpHarness();
    const engine = await h.working('default');
    engine.calls.length = 0;
    const typo = '123@c.us';
    const answers = [
      await h.request('GET', `/api/default/presence/${typo}`),
      await h.request('POST', `/api/default/presence/${typo}/subscribe`),
      await h.request('POST', '/api/default/presence', { presence: 'typing', chatId: typo }),
      await h.request('POST', '/api/startTyping', { session: 'default', chatId: '1234567890123456@c.us' }),
      await h.request('GET', '/api/default/presence/0491701234567@s.whatsapp.net'),
    ];
    for (const answer of answers) {
      expect(answer.statusCode, answer.body).toBe(400);
      expect(answer.json()).toMatchObject({ code: 'INVALID_CHAT_ID', field: 'chatId', message: expect.stringMatching(/7 to 15 digits/) as unknown });
    }
    expect(engine.calls).toEqual([]);
    expect((await h.request('GET', '/api/default/presence/subscriptions')).json()).toEqual([]);
    expect((await h.request('GET', '/api/default/presence/6834321@c.us')).statusCode).toBe(200);
  });

  it('still removes a short id subscribed before the check existed', async () => {
    const h = await httpHarness();
    await h.working('default');
    await h.storage.subscriptions.add('default', '123@c.us', Date.now());
    const removed = await h.request('DELETE', '/api/default/presence/123@c.us/subscribe');
    expect(removed.statusCode, removed.body).toBe(200);
    expect(removed.json()).toEqual({ chatId: '123@c.us', subscribed: false, removed: true });
  });
});

import { describe, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/index.js';
import { tempStorage } from '../support/harness.js';
import { httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';

interface Listed {
  readonly id: number;
  readonly eventId: string;
  readonly status: string;
  readonly lastError: string | null;
}

/** The app over a storage of our own (the harness's is made inside it), with the deliveries routes. */
async function harness(): Promise<{ h: HttpHarness; storage: Storage }> {
  const { storage } = await tempStorage();
  const h = await httpHarness({}, { storage });
  return { h, storage };
}

describe('deleting a session ends its webhook deliveries', () => {
  it('lists them as cancelled, sends none, and a later session of the same name cannot replay them', async () => {
    const { h, storage } = await harness();
    await h.request('POST', '/api/sessions', { name: 'gone', start: false });
    const d = (chat: string) => ({ url: 'http://127.0.0.1:9/hook', webhookKey: 'w', orderKey: `w|gone|${chat}`, target: '{}' });
    await storage.outbox.enqueue({ id: 'e1', session: 'gone', event: 'presence.update', body: '{}' }, [d('c1')], 1);
    await storage.outbox.enqueue({ id: 'e2', session: 'gone', event: 'presence.update', body: '{}' }, [d('c1')], 1);
    await storage.outbox.enqueue({ id: 'k1', session: 'kept', event: 'presence.update', body: '{}' }, [d('k')], 1);
    expect(await storage.outbox.countPending()).toBe(3);

    expect((await h.request('DELETE', '/api/sessions/gone')).statusCode).toBe(200);
    expect(await storage.outbox.countPending()).toBe(1);

    await h.request('POST', '/api/sessions', { name: 'gone', start: false });
    const listed = (await h.request('GET', '/api/gone/webhooks/deliveries')).json<Listed[]>();
    expect(listed.map((x) => [x.eventId, x.status, x.lastError])).toEqual([
      ['e2', 'cancelled', 'cancelled: its session was deleted'],
      ['e1', 'cancelled', 'cancelled: its session was deleted'],
    ]);
    const replay = await h.request('POST', `/api/gone/webhooks/deliveries/${listed[0]?.id}/replay`);
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/cancelled when its session was deleted/) as unknown });
    expect(await storage.outbox.countPending()).toBe(1);
  });
});


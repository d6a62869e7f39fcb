import { describe, expect, it } from 'vitest';
import { createHub } from '../../src/events/hub.js';
import { createRecentEvents } from '../../src/events/recent.js';

const body = (id: string, session: string, event: string, chat?: string): string =>
  JSON.stringify({ id, session, event, payload: chat === undefined ? {} : { id: chat } });

describe('recent events', () => {
  it('keeps the newest `capacity` events in order through wrap-around, and filters them', () => {
    const hub = createHub();
    const recent = createRecentEvents(hub, 3);
    expect(recent.size()).toBe(0);
    expect(recent.oldestId()).toBeNull();
    const sent = [
      ['evt_1', 'a', 'presence.update', '1@c.us'],
      ['evt_2', 'a', 'session.status'],
      ['evt_3', 'b', 'presence.update', '2@c.us'],
      ['evt_4', 'a', 'presence.update', '1@c.us'],
      ['evt_5', 'b', 'presence.update', '3@c.us'],
    ] as const;
    for (const [id, session, event, chat] of sent) hub.publish(session, event, body(id, session, event, chat));
    expect(recent.size()).toBe(3);
    expect(recent.oldestId()).toBe('evt_3');
    const all = { after: null, session: null, event: null, chat: null, limit: 10 };
    expect(recent.list(all).map((e) => e.id)).toEqual(['evt_3', 'evt_4', 'evt_5']);
    expect(recent.list({ ...all, limit: 2 }).map((e) => e.id)).toEqual(['evt_4', 'evt_5']);
    expect(recent.list({ ...all, after: 'evt_3' }).map((e) => e.id)).toEqual(['evt_4', 'evt_5']);
    expect(recent.list({ ...all, session: 'b' }).map((e) => e.id)).toEqual(['evt_3', 'evt_5']);
    expect(recent.list({ ...all, chat: '1@c.us' })).toEqual([{ id: 'evt_4', session: 'a', event: 'presence.update', chat: '1@c.us', body: body('evt_4', 'a', 'presence.update', '1@c.us') }]);
    recent.close();
    hub.publish('a', 'presence.update', body('evt_6', 'a', 'presence.update', '1@c.us'));
    expect(recent.oldestId()).toBe('evt_3');
  });
});

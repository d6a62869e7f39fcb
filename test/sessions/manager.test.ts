import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createClusterSessionOwnership } from '../../src/cluster/session-ownership.js';
import { createSessionManager } from '../../src/sessions/manager.js';
import { sessionHarness, silentLogger } from '../support/harness.js';
import { FAKE_LOGOUT_REASON } from '../support/fake-engine.js';
import { RecordingPublisher, sessionEventsOver } from '../support/recording-publisher.js';

const me = { id: '15550000001@c.us', pushName: 'Test' };
const contact = '15550000002@c.us';

async function expectCode(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describe('session lifecycle', () => {
  it('creates, starts, logs in and stops a session, publishing every status', async () => {
    const { manager, engines, publisher, storage } = await sessionHarness();
    const created = await manager.create({ name: 'one' });
    expect(created).toMatchObject({ name: 'one', status: 'STARTING', config: {}, me: null, engine: { engine: 'NOWEB' } });
    const engine = engines.latest('one');
    engine.status('SCAN_QR_CODE');
    engine.qr('qr-1');
    await manager.settled('one');
    expect(await manager.qr('one')).toBe('qr-1');
    engine.working(me);
    await manager.settled('one');
    expect(await manager.get('one')).toMatchObject({ status: 'WORKING', me });
    await expectCode(manager.qr('one'), 'QR_NOT_AVAILABLE');
    expect((await storage.sessions.get('one'))?.running).toBe(true);

    const stopped = await manager.stop('one');
    expect(stopped.status).toBe('STOPPED');
    expect(engine.state).toBe('stopped');
    expect((await storage.sessions.get('one'))?.running).toBe(false);
    expect(publisher.statuses('one')).toEqual(['STARTING', 'SCAN_QR_CODE', 'WORKING', 'STOPPED']);
    expect(await manager.me('one')).toEqual(me);
  });

  it('lists running sessions, or all of them', async () => {
    const { manager } = await sessionHarness();
    await manager.create({ name: 'a' });
    await manager.create({ name: 'b', start: false });
    expect((await manager.list(false)).map((s) => s.name)).toEqual(['a']);
    expect((await manager.list(true)).map((s) => [s.name, s.status])).toEqual([
      ['a', 'STARTING'],
      ['b', 'STOPPED'],
    ]);
  });

  it('refuses a duplicate name, a bad name, an unknown session and a bad webhook URL', async () => {
    const { manager } = await sessionHarness();
    await manager.create({ name: 'a', start: false });
    await expectCode(manager.create({ name: 'a' }), 'SESSION_EXISTS');
    await expectCode(manager.create({ name: 'bad name' }), 'VALIDATION_FAILED');
    await expectCode(manager.get('missing'), 'SESSION_NOT_FOUND');
    await expectCode(manager.start('missing'), 'SESSION_NOT_FOUND');
    const error = await expectCode(manager.create({ name: 'w', config: { webhooks: [{ url: 'ftp://x/y', events: ['*'] }] } }), 'VALIDATION_FAILED');
    expect(error.message).toMatch(/config\.webhooks\[0\]\.url must use http or https/);
    expect(error.message).not.toContain('undefined');
  });

  it('names the default session "default"', async () => {
    const { manager } = await sessionHarness();
    expect((await manager.create({ start: false })).name).toBe('default');
  });

  it('marks the session FAILED when the engine cannot start', async () => {
    const { manager, engines, publisher } = await sessionHarness();
    engines.onCreate = (engine) => engine.failNext('start', new Error('network down'));
    const error = await expectCode(manager.create({ name: 'f' }), 'ENGINE_FAILED');
    expect(error.message).toContain('network down');
    expect((await manager.get('f')).status).toBe('FAILED');
    expect(publisher.statuses('f')).toEqual(['STARTING', 'FAILED']);
  });

  it('drops events of an engine that was stopped', async () => {
    const { manager, engines, publisher } = await sessionHarness();
    await manager.create({ name: 's' });
    const old = engines.latest('s');
    await manager.restart('s');
    const fresh = engines.latest('s');
    expect(fresh).not.toBe(old);
    // The old engine is stopped: a real one cannot emit, and the session ignores it regardless.
    old.state = 'started';
    old.working(me);
    await manager.settled('s');
    expect((await manager.get('s')).status).toBe('STARTING');
    expect(publisher.statuses('s')).toEqual(['STARTING', 'STOPPED', 'STARTING']);
  });

  it('updates the config and restarts a running session to apply it', async () => {
    const { manager, engines } = await sessionHarness();
    await manager.create({ name: 'u' });
    const updated = await manager.update('u', { metadata: { team: 'x' }, noweb: { markOnline: false } });
    expect(updated.config).toEqual({ metadata: { team: 'x' }, noweb: { markOnline: false } });
    expect(engines.count('u')).toBe(2);
    expect(engines.latest('u').context.config).toEqual(updated.config);
  });

  it('deletes a session with everything stored under it', async () => {
    const { manager, engines, storage } = await sessionHarness();
    await manager.create({ name: 'd' });
    engines.latest('d').working(me);
    await manager.settled('d');
    await manager.subscribe('d', contact);
    await manager.delete('d');
    expect(engines.latest('d').state).toBe('stopped');
    expect(await storage.sessions.get('d')).toBeNull();
    expect(await storage.subscriptions.list('d')).toEqual([]);
    await expectCode(manager.get('d'), 'SESSION_NOT_FOUND');
  });

  it('logs out: unlinks, forgets presence and subscriptions, and stays STOPPED until started again', async () => {
    const { manager, engines, storage, publisher } = await sessionHarness();
    await manager.create({ name: 'l' });
    const engine = engines.latest('l');
    engine.working(me);
    await manager.settled('l');
    await manager.subscribe('l', contact);
    engine.presence(contact, [{ participant: contact, lastKnownPresence: 'online', lastSeen: null }]);
    await manager.settled('l');
    const after = await manager.logout('l');
    expect(engine.state).toBe('logged-out');
    expect(after).toMatchObject({ status: 'STOPPED', me: null, reason: FAKE_LOGOUT_REASON });
    await manager.settled('l');
    expect(await manager.get('l')).toMatchObject({ status: 'STOPPED', me: null });
    expect(engines.count('l')).toBe(1);
    expect((await storage.sessions.get('l'))?.running).toBe(false);
    expect(await storage.presence.list('l')).toEqual([]);
    expect(await storage.subscriptions.list('l')).toEqual([]);
    expect(publisher.envelopes('session.status', 'l').at(-1)?.payload).toMatchObject({ name: 'l', status: 'STOPPED', reason: FAKE_LOGOUT_REASON });
    // Started again, it links anew (a fresh engine, which shows a QR).
    expect((await manager.start('l')).status).toBe('STARTING');
    expect(engines.count('l')).toBe(2);
  });

  it.each([
    ['FAILED', 'replaced by another connection', false],
    ['FAILED', 'banned', false],
    ['STOPPED', 'removed from the phone; credentials deleted', true],
  ] as const)('an engine that ends %s by itself (%s) is released: not running, no restart, the reason in every view', async (status, reason, unlinked) => {
    const { manager, engines, storage, publisher } = await sessionHarness();
    await manager.create({ name: 'e' });
    const engine = engines.latest('e');
    engine.working(me);
    await manager.settled('e');
    await manager.subscribe('e', contact);
    engine.endedByWhatsApp(status, reason, unlinked);
    await manager.settled('e');
    expect(await manager.get('e')).toMatchObject({ status, reason, me: unlinked ? null : me });
    // An unlinked device takes what belonged to its login with it, as a logout does.
    expect((await storage.subscriptions.list('e')).map((sub) => sub.chatId)).toEqual(unlinked ? [] : [contact]);
    expect(engine.state).toBe('stopped');
    expect(manager.hasEngine('e')).toBe(false);
    expect((await storage.sessions.get('e'))?.running).toBe(false);
    expect(publisher.statuses('e')).toEqual(['STARTING', 'WORKING', status]);
    const payload = publisher.envelopes('session.status', 'e').at(-1)?.payload;
    expect(payload).toEqual({ name: 'e', status, reason, statuses: [expect.objectContaining({ status: 'STARTING' }), expect.objectContaining({ status: 'WORKING' }), expect.objectContaining({ status })] });
    const refused = await expectCode(manager.setPresence('e', 'online'), 'SESSION_NOT_WORKING');
    expect(refused.message).toContain(`(${reason})`);
    // A server restart leaves it alone.
    await manager.shutdown();
    const second = createSessionManager({ storage, engines, events: sessionEventsOver(new RecordingPublisher()), logger: silentLogger });
    await second.resume({ startSessions: [], restartAll: false });
    expect(engines.count('e')).toBe(1);
    // Someone starts it again: a fresh engine, and the old reason is gone.
    const started = await second.start('e');
    expect(started.status).toBe('STARTING');
    expect(started).not.toHaveProperty('reason');
    expect(engines.count('e')).toBe(2);
    await second.shutdown();
  });

  it('several servers: an engine replaced after its lease moved on leaves the session running, for the new owner', async () => {
    const { storage, engines, publisher } = await sessionHarness();
    // This server ("a") runs the session under its lease, as the cluster's claim would give it.
    const claim = async (session: string) => {
      await storage.leases.acquire('a', { capacity: 10, ttlMs: 60_000, sessions: [session] });
      const lease = await storage.leases.get(session);
      if (lease === null) throw new Error('no lease');
      return { owner: lease.owner, epoch: lease.epoch };
    };
    const ownership = createClusterSessionOwnership({ serverId: 'a', claim, leases: storage.leases, statuses: storage.statuses });
    const manager = createSessionManager({ storage, engines, events: sessionEventsOver(publisher), logger: silentLogger, ownership });
    onTestFinished(() => manager.shutdown());
    await manager.create({ name: 'moved' });
    const engine = engines.latest('moved');
    engine.working(me);
    await manager.settled('moved');
    // "a" stalled: its lease went to "b", whose login replaced a's stream.
    await storage.leases.release('a');
    await storage.leases.acquire('b', { capacity: 10, ttlMs: 60_000, sessions: ['moved'] });
    engine.endedByWhatsApp('FAILED', 'replaced by another connection', false);
    await manager.settled('moved');
    expect(manager.hasEngine('moved')).toBe(false);
    expect((await storage.sessions.get('moved'))?.running).toBe(true);
  });

  it('a command that came first wins over the release of an engine that ended by itself', async () => {
    const { manager, engines } = await sessionHarness();
    await manager.create({ name: 'c' });
    const first = engines.latest('c');
    first.working(me);
    await manager.settled('c');
    // The restart is queued before the engine's final status is handled.
    const restarting = manager.restart('c');
    first.endedByWhatsApp('FAILED', 'replaced');
    await restarting;
    await manager.settled('c');
    expect(engines.count('c')).toBe(2);
    expect((await manager.get('c')).status).toBe('STARTING');
    expect(manager.hasEngine('c')).toBe(true);
  });

  it('resumes running sessions and WHATSAPP_START_SESSION ones after a server restart', async () => {
    const { manager, storage, engines } = await sessionHarness();
    await manager.create({ name: 'running' });
    await manager.create({ name: 'idle', start: false });
    await manager.shutdown();
    expect((await storage.sessions.get('running'))?.running).toBe(true);

    const second = createSessionManager({ storage, engines, events: sessionEventsOver(new RecordingPublisher()), logger: silentLogger });
    await second.resume({ startSessions: ['fromenv'], restartAll: false });
    expect((await second.list(false)).map((s) => s.name).sort()).toEqual(['fromenv', 'running']);
    await second.shutdown();
  });
});

describe('presence through the session', () => {
  async function working() {
    const harness = await sessionHarness();
    await harness.manager.create({ name: 'p' });
    const engine = harness.engines.latest('p');
    engine.working(me);
    await harness.manager.settled('p');
    return { ...harness, engine };
  }

  it('refuses presence commands while the session is not WORKING, with its status', async () => {
    const { manager, engines } = await sessionHarness();
    await manager.create({ name: 'p' });
    engines.latest('p').status('SCAN_QR_CODE');
    await manager.settled('p');
    const error = await expectCode(manager.setPresence('p', 'online'), 'SESSION_NOT_WORKING');
    expect(error.details).toEqual({ session: 'p', status: 'SCAN_QR_CODE' });
    await expectCode(manager.getPresence('p', contact), 'SESSION_NOT_WORKING');
    await expectCode(manager.listPresence('p'), 'SESSION_NOT_WORKING');
    await expectCode(manager.subscribe('p', contact), 'SESSION_NOT_WORKING');
    await expectCode(manager.setChatPresence('p', contact, 'typing'), 'SESSION_NOT_WORKING');
    await expectCode(manager.listPresence('nope'), 'SESSION_NOT_FOUND');
  });

  it('stores and publishes only the changed entries, once for identical updates', async () => {
    const { manager, engine, publisher, storage } = await working();
    const online = { participant: contact, lastKnownPresence: 'online', lastSeen: null } as const;
    engine.presence(contact, [online]);
    engine.presence(contact, [online]);
    engine.presence(contact, [{ participant: contact, lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }]);
    await manager.settled('p');
    const updates = publisher.envelopes('presence.update', 'p');
    expect(updates.map((envelope) => envelope.payload)).toEqual([
      { id: contact, presences: [online] },
      { id: contact, presences: [{ participant: contact, lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }] },
    ]);
    expect(updates[0]).toMatchObject({ session: 'p', me, engine: 'NOWEB', metadata: null });
    expect(await storage.presence.get('p', contact)).toEqual({
      id: contact,
      presences: [{ participant: contact, lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }],
    });
  });

  it('merges with what the store held before the session ran, and keeps every participant of a group', async () => {
    const { storage, engines, publisher } = await sessionHarness();
    const group = '120363000000000001@g.us';
    const alice = '15550000003@c.us';
    const bob = '15550000004@c.us';
    await storage.presence.put('p', group, [{ participant: alice, lastKnownPresence: 'offline', lastSeen: 100 }]);
    // A manager of its own on the same storage: nothing of this chat was seen by it yet.
    const manager = createSessionManager({ storage, engines, events: sessionEventsOver(publisher), logger: silentLogger });
    await manager.create({ name: 'p' });
    const engine = engines.latest('p');
    engine.working(me);
    engine.presence(group, [{ participant: alice, lastKnownPresence: 'offline', lastSeen: 100 }]);
    engine.presence(group, [{ participant: alice, lastKnownPresence: 'online', lastSeen: null }]);
    engine.presence(group, [{ participant: bob, lastKnownPresence: 'typing', lastSeen: null }]);
    engine.presence(group, [{ participant: alice, lastKnownPresence: 'online', lastSeen: null }]);
    await manager.settled('p');
    await manager.shutdown();
    expect(publisher.envelopes('presence.update', 'p').map((envelope) => envelope.payload)).toEqual([
      { id: group, presences: [{ participant: alice, lastKnownPresence: 'online', lastSeen: 100 }] },
      { id: group, presences: [{ participant: bob, lastKnownPresence: 'typing', lastSeen: null }] },
    ]);
    expect(await storage.presence.get('p', group)).toEqual({
      id: group,
      presences: [
        { participant: alice, lastKnownPresence: 'online', lastSeen: 100 },
        { participant: bob, lastKnownPresence: 'typing', lastSeen: null },
      ],
    });
  });

  it('a presence write that failed is not taken as stored: the same update is written and published when it comes again', async () => {
    const { storage, engines, publisher } = await sessionHarness();
    let failures = 1;
    const presence = {
      ...storage.presence,
      put: (session: string, chatId: string, entries: Parameters<typeof storage.presence.put>[2]) =>
        failures-- > 0 ? Promise.reject(new Error('disk full')) : storage.presence.put(session, chatId, entries),
    };
    const manager = createSessionManager({ storage: { ...storage, presence }, engines, events: sessionEventsOver(publisher), logger: silentLogger });
    onTestFinished(() => manager.shutdown());
    await manager.create({ name: 'p' });
    const engine = engines.latest('p');
    engine.working(me);
    const online = { participant: contact, lastKnownPresence: 'online', lastSeen: null } as const;
    engine.presence(contact, [online]);
    engine.presence(contact, [online]);
    await manager.settled('p');
    // The first was neither stored nor published (the event is published only once its presence is stored).
    expect(publisher.envelopes('presence.update', 'p').map((envelope) => envelope.payload)).toEqual([{ id: contact, presences: [online] }]);
    expect(await storage.presence.get('p', contact)).toEqual({ id: contact, presences: [online] });
  });

  it('a failed presence write that a later write of the chat overtook is not replayed over it', async () => {
    const { storage, engines, publisher } = await sessionHarness();
    let failures = 1;
    const presence = {
      ...storage.presence,
      put: (session: string, chatId: string, entries: Parameters<typeof storage.presence.put>[2]) =>
        failures-- > 0 ? Promise.reject(new Error('disk full')) : storage.presence.put(session, chatId, entries),
    };
    const manager = createSessionManager({ storage: { ...storage, presence }, engines, events: sessionEventsOver(publisher), logger: silentLogger });
    onTestFinished(() => manager.shutdown());
    await manager.create({ name: 'p' });
    const engine = engines.latest('p');
    engine.working(me);
    const online = { participant: contact, lastKnownPresence: 'online', lastSeen: null } as const;
    const offline = { participant: contact, lastKnownPresence: 'offline', lastSeen: 1_700_000_000 } as const;
    engine.presence(contact, [online]);
    engine.presence(contact, [offline]);
    await manager.settled('p');
    expect(publisher.envelopes('presence.update', 'p').map((envelope) => envelope.payload)).toEqual([{ id: contact, presences: [offline] }]);
    expect(await storage.presence.get('p', contact)).toEqual({ id: contact, presences: [offline] });
  });

  it('after a logout the presence it forgot is news again', async () => {
    const { manager, engines, publisher } = await sessionHarness();
    await manager.create({ name: 'p' });
    const online = { participant: contact, lastKnownPresence: 'online', lastSeen: null } as const;
    engines.latest('p').working(me);
    engines.latest('p').presence(contact, [online]);
    await manager.settled('p');
    await manager.logout('p');
    await manager.start('p');
    engines.latest('p').working(me);
    engines.latest('p').presence(contact, [online]);
    await manager.settled('p');
    expect(publisher.envelopes('presence.update', 'p')).toHaveLength(2);
  });

  it('keeps handling events when the publisher rejects one', async () => {
    const { manager, engine, publisher } = await working();
    publisher.failNext(new Error('outbox full'));
    engine.presence(contact, [{ participant: contact, lastKnownPresence: 'online', lastSeen: null }]);
    engine.presence(contact, [{ participant: contact, lastKnownPresence: 'typing', lastSeen: null }]);
    await manager.settled('p');
    expect(publisher.envelopes('presence.update').length).toBe(2);
  });

  it('GET on an unsubscribed chat subscribes it once and answers with what is known', async () => {
    const { manager, engine, storage } = await working();
    expect(await manager.getPresence('p', contact)).toEqual({ id: contact, presences: [] });
    expect(await manager.getPresence('p', contact)).toEqual({ id: contact, presences: [] });
    expect(engine.callsOf('subscribe')).toEqual([{ method: 'subscribe', chatId: contact }]);
    expect((await storage.subscriptions.list('p')).map((sub) => sub.chatId)).toEqual([contact]);
  });

  it('GET after an unsubscribe subscribes the chat again (and stores it again)', async () => {
    const { manager, engine, storage } = await working();
    await manager.getPresence('p', contact);
    expect(await manager.unsubscribe('p', contact)).toBe(true);
    await manager.getPresence('p', contact);
    expect(engine.callsOf('subscribe')).toEqual([
      { method: 'subscribe', chatId: contact },
      { method: 'subscribe', chatId: contact },
    ]);
    expect((await storage.subscriptions.list('p')).map((sub) => sub.chatId)).toEqual([contact]);
  });

  it('answers reads from what the engine path cached; the list reads the store once, then follows the updates', async () => {
    const { manager, engine, storage } = await working();
    const group = '120363000000000001@g.us';
    const online = { participant: contact, lastKnownPresence: 'online', lastSeen: null } as const;
    engine.presence(contact, [online]);
    await manager.settled('p');
    const get = vi.spyOn(storage.presence, 'get');
    const list = vi.spyOn(storage.presence, 'list');
    expect(await manager.getPresence('p', contact)).toEqual({ id: contact, presences: [online] });
    expect(get).not.toHaveBeenCalled();
    expect(await manager.listPresence('p')).toEqual([{ id: contact, presences: [online] }]);
    expect(await manager.listPresence('p')).toEqual([{ id: contact, presences: [online] }]);
    expect(list).toHaveBeenCalledTimes(1);
    const typing = { participant: '15550000099@c.us', lastKnownPresence: 'typing', lastSeen: null } as const;
    engine.presence(group, [typing]);
    engine.presence(contact, [{ ...online, lastKnownPresence: 'offline', lastSeen: 1700000000 }]);
    await manager.settled('p');
    const expected = [
      { id: group, presences: [typing] },
      { id: contact, presences: [{ ...online, lastKnownPresence: 'offline', lastSeen: 1700000000 }] },
    ].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await manager.listPresence('p')).toEqual(expected);
    expect(list).toHaveBeenCalledTimes(1);
    expect(await storage.presence.list('p')).toEqual(expected);
    get.mockClear();
    // A chat never reported since the start: read from the store once, then remembered.
    expect(await manager.getPresence('p', '15550000055@c.us')).toEqual({ id: '15550000055@c.us', presences: [] });
    expect(await manager.getPresence('p', '15550000055@c.us')).toEqual({ id: '15550000055@c.us', presences: [] });
    expect(get).toHaveBeenCalledTimes(1);
  });

  it('does not store a subscription the engine refused', async () => {
    const { manager, engine, storage } = await working();
    engine.failNext('subscribe', new Error('socket closed'));
    await expectCode(manager.getPresence('p', contact), 'ENGINE_FAILED');
    expect(await storage.subscriptions.list('p')).toEqual([]);
  });

  it('sends global and chat presence and remembers the global one', async () => {
    const { manager, engine, storage } = await working();
    await manager.setPresence('p', 'offline');
    await manager.setChatPresence('p', contact, 'typing', { durationMs: 5000 });
    expect(engine.callsOf('setPresence')).toEqual([{ method: 'setPresence', presence: 'offline' }]);
    expect(engine.callsOf('setChatPresence')).toEqual([{ method: 'setChatPresence', chatId: contact, presence: 'typing', durationMs: 5000 }]);
    expect((await storage.sessions.get('p'))?.presence).toBe('offline');
  });
});


/** A WORKING session "r" subscribed to `chats`, with the engine's calls so far forgotten. */
async function subscribedSession(chats: readonly string[]) {
  const harness = await sessionHarness();
  await harness.manager.create({ name: 'r' });
  const engine = harness.engines.latest('r');
  engine.working(me);
  await harness.manager.settled('r');
  for (const chat of chats) await harness.manager.subscribe('r', chat);
  engine.calls.length = 0;
  return { ...harness, engine };
}

describe('renewal after a reconnect', () => {
  it('re-sends the stored presence and re-subscribes every chat, rate limited, each time WORKING is reached', async () => {
    const { manager, engines, clock: sleep } = await sessionHarness();
    await manager.create({ name: 'r' });
    const engine = engines.latest('r');
    engine.working(me);
    await manager.settled('r');
    await manager.setPresence('r', 'online');
    await manager.subscribe('r', '1@c.us');
    await manager.subscribe('r', '2@c.us');
    await manager.subscribe('r', '3@g.us');
    engine.calls.length = 0;
    sleep.delays.length = 0;

    engine.status('STARTING');
    engine.status('WORKING');
    await manager.settled('r');
    expect(engine.calls).toEqual([
      { method: 'setPresence', presence: 'online' },
      { method: 'subscribe', chatId: '1@c.us' },
      { method: 'subscribe', chatId: '2@c.us' },
      { method: 'subscribe', chatId: '3@g.us' },
    ]);
    // 10 commands per second by default: 100 ms between consecutive commands.
    expect(sleep.delays).toEqual([100, 100, 100]);
  });

  it('retries a failed subscribe with backoff, then goes on with the next chat', async () => {
    const { manager, engines, clock: sleep } = await sessionHarness();
    await manager.create({ name: 'r' });
    const engine = engines.latest('r');
    engine.working(me);
    await manager.settled('r');
    await manager.subscribe('r', '1@c.us');
    await manager.subscribe('r', '2@c.us');
    engine.calls.length = 0;
    sleep.delays.length = 0;
    engine.failNext('subscribe', new Error('timeout'), 5);

    engine.status('STARTING');
    engine.status('WORKING');
    await manager.settled('r');
    expect(engine.callsOf('subscribe').map((call) => call.chatId)).toEqual(['1@c.us', '1@c.us', '1@c.us', '1@c.us', '1@c.us', '2@c.us']);
    expect(sleep.delays).toEqual([1000, 100, 2000, 100, 4000, 100, 8000, 100, 100]);
  });

  it('renews no chat unsubscribed before the reconnect, whatever the status it was unsubscribed in', async () => {
    const { manager, engines, storage } = await sessionHarness();
    await manager.create({ name: 'r' });
    engines.latest('r').working(me);
    await manager.settled('r');
    for (const chat of ['1@c.us', '2@c.us', '3@g.us']) await manager.subscribe('r', chat);
    expect(await manager.unsubscribe('r', '1@c.us')).toBe(true);
    await manager.stop('r');
    expect(await manager.unsubscribe('r', '3@g.us')).toBe(true);
    expect(await manager.unsubscribe('r', '3@g.us')).toBe(false);
    expect((await manager.listSubscriptions('r')).map((sub) => sub.chatId)).toEqual(['2@c.us']);

    await manager.start('r');
    engines.latest('r').working(me);
    await manager.settled('r');
    expect(engines.latest('r').callsOf('subscribe').map((call) => call.chatId)).toEqual(['2@c.us']);
    expect((await storage.subscriptions.list('r')).map((sub) => sub.chatId)).toEqual(['2@c.us']);
  });

  it('skips a chat unsubscribed while the renewal is under way, and renews it again once subscribed again', async () => {
    const { manager, engine } = await subscribedSession(['1@c.us', '2@c.us', '3@c.us']);
    let release = (): void => undefined;
    engine.hold('subscribe', new Promise<void>((resolve) => (release = resolve)));

    engine.status('STARTING');
    engine.status('WORKING');
    // The renewal read its list and is held on its first command: 2 is removed behind its back.
    await expect.poll(() => engine.callsOf('subscribe').length).toBe(1);
    expect(await manager.unsubscribe('r', '2@c.us')).toBe(true);
    release();
    await manager.settled('r');
    expect(engine.callsOf('subscribe').map((call) => call.chatId)).toEqual(['1@c.us', '3@c.us']);

    // Subscribed again, then renewed at the next reconnect like any other.
    await manager.subscribe('r', '2@c.us');
    engine.calls.length = 0;
    engine.status('STARTING');
    engine.status('WORKING');
    await manager.settled('r');
    expect(engine.callsOf('subscribe').map((call) => call.chatId)).toEqual(['1@c.us', '3@c.us', '2@c.us']);
  });

  it('skips a chat whose unsubscribe had not reached the store when the renewal read its list', async () => {
    const { manager, engine, storage } = await subscribedSession(['1@c.us', '2@c.us']);
    // The removal is slow (another connection, on PostgreSQL): the renewal lists the chat still.
    let commit = (): void => undefined;
    const committed = new Promise<void>((resolve) => (commit = resolve));
    const remove = storage.subscriptions.remove.bind(storage.subscriptions);
    storage.subscriptions.remove = async (session, chatId) => {
      await committed;
      return remove(session, chatId);
    };
    const unsubscribing = manager.unsubscribe('r', '2@c.us');
    engine.calls.length = 0;
    engine.status('STARTING');
    engine.status('WORKING');
    await manager.settled('r');
    commit();
    expect(await unsubscribing).toBe(true);
    expect(engine.callsOf('subscribe').map((call) => call.chatId)).toEqual(['1@c.us']);
  });

  it('is cancelled when the session stops', async () => {
    const { manager, engine } = await subscribedSession(['1@c.us', '2@c.us']);
    let release = (): void => undefined;
    engine.hold('subscribe', new Promise<void>((resolve) => (release = resolve)));

    engine.status('STARTING');
    engine.status('WORKING');
    await expect.poll(() => engine.callsOf('subscribe').length).toBe(1);
    const stopping = manager.stop('r');
    release();
    await stopping;
    expect(engine.callsOf('subscribe').map((call) => call.chatId)).toEqual(['1@c.us']);
  });
});

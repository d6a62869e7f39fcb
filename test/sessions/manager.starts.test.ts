import { afterEach, describe, expect, it, vi } from 'vitest';
import { START_SLOT_MS } from '../../src/sessions/manager.js';
import type { SessionManager } from '../../src/sessions/manager.js';
import type { Storage } from '../../src/storage/index.js';
import type { FakeEngine, FakeEngineFactory } from '../support/fake-engine.js';
import { sessionHarness } from '../support/harness.js';

const me = { id: '15550000001@c.us', pushName: 'Test' };

/**
 * Waits until the starts granted so far have run: a slot freed by an engine's status is handed
 * over through a promise and a command posted on the next session's control queue; one turn of
 * the event loop runs those callbacks, and `settled` then waits for the command itself.
 */
async function handedOver(manager: SessionManager, names: readonly string[]): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  for (const name of names) await manager.settled(name);
}

async function storeRunning(storage: Storage, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await storage.sessions.create({ name, engine: 'NOWEB', config: {}, running: true, me: null, presence: null, createdAt: 1, updatedAt: 1 });
  }
}

/**
 * Counts the engines between `start()` and their first status other than STARTING, and keeps the
 * most there ever were, checked at every start (which is when the count grows).
 */
function watchStarts(engines: FakeEngineFactory): { readonly order: string[]; inProgress(): number; readonly most: () => number; report(engine: FakeEngine): void } {
  const order: string[] = [];
  const reported = new Set<FakeEngine>();
  let most = 0;
  const inProgress = (): number => engines.engines.filter((engine) => engine.callsOf('start').length > 0 && !reported.has(engine) && engine.state === 'started').length;
  engines.onCreate = (engine) => {
    const start = engine.start.bind(engine);
    engine.start = async () => {
      order.push(engine.session);
      await start();
      most = Math.max(most, inProgress());
    };
  };
  return { order, inProgress, most: () => most, report: (engine) => reported.add(engine) };
}

describe('engine starts are paced (WA_PRESENCE_START_CONCURRENCY)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resuming 5 sessions with 2 slots: never more than 2 starting, each slot freed by QR, WORKING or FAILED, in order', async () => {
    const { manager, engines, storage, publisher } = await sessionHarness({ startConcurrency: 2 });
    const names = ['s1', 's2', 's3', 's4', 's5'];
    await storeRunning(storage, names);
    const starts = watchStarts(engines);

    await manager.resume({ startSessions: [], restartAll: false });
    // Every session is starting; only two engines were started.
    expect((await manager.list(false)).map((session) => session.status)).toEqual(['STARTING', 'STARTING', 'STARTING', 'STARTING', 'STARTING']);
    expect(starts.order).toEqual(['s1', 's2']);
    expect(names.map((name) => engines.latest(name).state)).toEqual(['started', 'started', 'created', 'created', 'created']);

    // A QR to scan frees the slot: the session waits for a person, not for the CPU.
    const s1 = engines.latest('s1');
    s1.status('SCAN_QR_CODE');
    starts.report(s1);
    await handedOver(manager, ['s1', 's3']);
    expect(starts.order).toEqual(['s1', 's2', 's3']);
    expect((await manager.get('s1')).status).toBe('SCAN_QR_CODE');

    const s2 = engines.latest('s2');
    s2.working(me);
    starts.report(s2);
    await handedOver(manager, ['s2', 's4']);
    expect(starts.order).toEqual(['s1', 's2', 's3', 's4']);

    const s3 = engines.latest('s3');
    s3.endedByWhatsApp('FAILED', 'banned');
    starts.report(s3);
    await handedOver(manager, ['s3', 's5']);
    expect(starts.order).toEqual(['s1', 's2', 's3', 's4', 's5']);
    expect(starts.most()).toBe(2);
    expect(starts.inProgress()).toBe(2);
    // A reconnect (STARTING again) of a session that got past its start takes no slot.
    s2.status('STARTING');
    s2.status('WORKING');
    await handedOver(manager, ['s2']);
    expect(publisher.statuses('s5')).toEqual(['STARTING']);
    expect(names.map((name) => engines.count(name))).toEqual([1, 1, 1, 1, 1]);
  });

  it('frees the slot of a start that reports nothing within START_SLOT_MS', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { manager, engines } = await sessionHarness({ startConcurrency: 1 });
    await manager.create({ name: 'slow' });
    const queued = await manager.create({ name: 'next' });
    expect(queued.status).toBe('STARTING');
    vi.advanceTimersByTime(START_SLOT_MS - 1);
    await handedOver(manager, ['next']);
    expect(engines.latest('next').state).toBe('created');
    vi.advanceTimersByTime(1);
    await handedOver(manager, ['next']);
    expect(engines.latest('next').state).toBe('started');
    // The slow one is not stopped: it only lost its priority.
    expect((await manager.get('slow')).status).toBe('STARTING');
    expect(engines.latest('slow').state).toBe('started');
  });

  it('a stop, delete or logout while waiting gives the turn up: that engine never starts, and the slot goes on', async () => {
    const { manager, engines, storage, publisher } = await sessionHarness({ startConcurrency: 1 });
    await manager.create({ name: 'first' });
    for (const name of ['stopped', 'deleted', 'loggedout', 'last']) expect((await manager.create({ name })).status).toBe('STARTING');
    await storage.auth.forSession('loggedout').set([{ category: 'creds', id: '', value: '{"me":"x"}' }]);

    expect(await manager.stop('stopped')).toMatchObject({ status: 'STOPPED' });
    await manager.delete('deleted');
    expect(await manager.logout('loggedout')).toMatchObject({ status: 'STOPPED' });

    engines.latest('first').working(me);
    await handedOver(manager, ['first', 'stopped', 'loggedout', 'last']);
    for (const name of ['stopped', 'deleted', 'loggedout']) expect(engines.latest(name).callsOf('start'), name).toEqual([]);
    expect(engines.latest('last').state).toBe('started');
    expect(publisher.statuses('stopped')).toEqual(['STARTING', 'STOPPED']);
    expect((await storage.sessions.get('stopped'))?.running).toBe(false);
    expect(await storage.sessions.get('deleted')).toBeNull();
    expect((await storage.sessions.get('loggedout'))?.running).toBe(false);
    expect(await storage.auth.forSession('loggedout').get('creds', [''])).toEqual({});
    expect(manager.hasEngine('stopped')).toBe(false);

    // Nothing leaked: with 'last' past its start, the one slot is free again.
    engines.latest('last').status('SCAN_QR_CODE');
    await handedOver(manager, ['last']);
    await manager.create({ name: 'after' });
    expect(engines.latest('after').state).toBe('started');
  });

  it('a queued start that fails shows FAILED with the reason, and frees its slot', async () => {
    const { manager, engines } = await sessionHarness({ startConcurrency: 1 });
    await manager.create({ name: 'first' });
    engines.onCreate = (engine) => {
      if (engine.session === 'broken') engine.failNext('start', new Error('network down'));
    };
    // Queued: the caller gets STARTING now, not the failure that comes later.
    expect((await manager.create({ name: 'broken' })).status).toBe('STARTING');
    await manager.create({ name: 'third' });

    engines.latest('first').working(me);
    await handedOver(manager, ['broken', 'third']);
    expect(await manager.get('broken')).toMatchObject({ status: 'FAILED' });
    expect(engines.latest('broken').callsOf('start')).toHaveLength(1);
    expect(engines.latest('third').state).toBe('started');
  });

  it('a second start or a restart while waiting keeps one engine; a restart waits again at the back', async () => {
    const { manager, engines } = await sessionHarness({ startConcurrency: 1 });
    await manager.create({ name: 'first' });
    await manager.create({ name: 'a' });
    await manager.create({ name: 'b' });
    expect((await manager.start('a')).status).toBe('STARTING');
    expect(engines.count('a')).toBe(1);
    await manager.restart('a');
    expect(engines.count('a')).toBe(2);
    engines.latest('first').working(me);
    await handedOver(manager, ['a', 'b']);
    expect(engines.latest('b').state).toBe('started');
    expect(engines.engines.filter((engine) => engine.session === 'a').map((engine) => engine.callsOf('start').length)).toEqual([0, 0]);
    engines.latest('b').working(me);
    await handedOver(manager, ['a']);
    expect(engines.latest('a').state).toBe('started');
  });
});

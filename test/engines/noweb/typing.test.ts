import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTypingKeeper } from '../../../src/engines/noweb/typing.js';
import type { ChatPresenceStatus } from '../../../src/presence/status.js';
import { systemClock } from '../../../src/clock.js';

const JID = '491701234567@s.whatsapp.net';

function setup(refreshMs = 10_000) {
  const sent: [string, ChatPresenceStatus, number][] = [];
  let failing = false;
  const keeper = createTypingKeeper({
    send: (jid, state) => {
      if (failing) return Promise.reject(new Error('socket closed'));
      sent.push([jid, state, Date.now()]);
      return Promise.resolve();
    },
    logger: pino({ level: 'silent' }),
    refreshMs,
    clock: systemClock,
  });
  return { keeper, sent, fail: (value: boolean) => { failing = value; } };
}

/** A keeper whose sends wait until the test lets them through, one at a time, in order. */
function gatedSetup() {
  const sent: [string, ChatPresenceStatus][] = [];
  const gates: (() => void)[] = [];
  const keeper = createTypingKeeper({
    send: (jid, state) => new Promise<void>((resolve) => {
      gates.push(() => {
        sent.push([jid, state]);
        resolve();
      });
    }),
    logger: pino({ level: 'silent' }),
    refreshMs: 10_000,
  });
  const release = async (): Promise<void> => {
    const open = gates.shift();
    if (open === undefined) throw new Error('no send is waiting');
    open();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { keeper, sent, release, waiting: () => gates.length };
}

describe('typing keeper', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('re-sends typing every refresh until paused, then sends paused once', async () => {
    const { keeper, sent } = setup();
    await keeper.start(JID, 'typing');
    await vi.advanceTimersByTimeAsync(35_000);
    expect(sent.map(([, s, t]) => [s, t])).toEqual([['typing', 0], ['typing', 10_000], ['typing', 20_000], ['typing', 30_000]]);
    await keeper.pause(JID);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent.at(-1)?.[1]).toBe('paused');
    expect(sent).toHaveLength(5);
    expect(keeper.active()).toEqual([]);
  });

  it('ends a typing with a duration by sending paused', async () => {
    const { keeper, sent } = setup();
    await keeper.start(JID, 'recording', 25_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent.map(([, s, t]) => [s, t])).toEqual([['recording', 0], ['recording', 10_000], ['recording', 20_000], ['paused', 25_000]]);
    expect(keeper.active()).toEqual([]);
  });

  it('replaces a typing with a recording in the same chat', async () => {
    const { keeper, sent } = setup();
    await keeper.start(JID, 'typing', 5_000);
    await keeper.start(JID, 'recording');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent.map(([, s]) => s)).toEqual(['typing', 'recording', 'recording']);
  });

  it('stopAll sends paused to every active chat and stops refreshing', async () => {
    const { keeper, sent } = setup();
    await keeper.start(JID, 'typing');
    await keeper.start('120363041234567890@g.us', 'recording');
    await keeper.stopAll(true);
    expect(sent.slice(2).map(([jid, s]) => [jid, s]).sort()).toEqual([['120363041234567890@g.us', 'paused'], [JID, 'paused']]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(4);
  });

  it('stopAll(false) sends nothing and never rejects when sending fails', async () => {
    const { keeper, sent, fail } = setup();
    await keeper.start(JID, 'typing');
    fail(true);
    await keeper.stopAll(true);
    await keeper.stopAll(false);
    expect(sent).toHaveLength(1);
  });

  it('keeps refreshing after a failed refresh (a reconnect in between)', async () => {
    const { keeper, sent, fail } = setup();
    await keeper.start(JID, 'typing');
    fail(true);
    await vi.advanceTimersByTimeAsync(10_000);
    fail(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent.map(([, s, t]) => [s, t])).toEqual([['typing', 0], ['typing', 20_000]]);
  });

  it('keeps nothing alive when a stop overtakes a start whose first send is under way (logout race)', async () => {
    const { keeper, sent, release, waiting } = gatedSetup();
    const started = keeper.start(JID, 'typing');
    await keeper.stopAll(true); // nothing is active yet: the typing is still on its way
    await release();
    // The typing that got through is ended at once, and nothing refreshes it afterwards.
    expect(waiting()).toBe(1);
    await release();
    await started;
    expect(keeper.active()).toEqual([]);
    expect(sent).toEqual([[JID, 'typing'], [JID, 'paused']]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(waiting()).toBe(0);
  });

  it('keeps one refresh timer a chat when two starts of the same chat overlap', async () => {
    const { keeper, sent, release, waiting } = gatedSetup();
    const first = keeper.start(JID, 'typing');
    const second = keeper.start(JID, 'recording');
    await release();
    await release();
    await Promise.all([first, second]);
    expect(keeper.active()).toEqual([JID]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(waiting()).toBe(1);
    await release();
    const paused = keeper.pause(JID);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(waiting()).toBe(1); // only the paused: no timer of either start is left
    await release();
    await paused;
    expect(sent.map(([, state]) => state)).toEqual(['typing', 'recording', 'recording', 'paused']);
  });

  it('rejects start when the first send fails, and keeps nothing', async () => {
    const { keeper, fail } = setup();
    fail(true);
    await expect(keeper.start(JID, 'typing')).rejects.toThrow('socket closed');
    expect(keeper.active()).toEqual([]);
  });
});

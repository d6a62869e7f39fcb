import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createGate } from '../../src/sessions/gate.js';
import type { Turn } from '../../src/sessions/gate.js';

/** Lets the `ready` promises settled so far run their callbacks. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('start gate', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grants at once while slots are free, then first come first served', async () => {
    const gate = createGate({ slots: 2, holdMs: 1000 });
    const granted: string[] = [];
    const turns = new Map<string, Turn>();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const turn = gate.join();
      turns.set(name, turn);
      void turn.ready.then((mine) => {
        if (mine) granted.push(name);
      });
    }
    expect([...turns.values()].map((turn) => turn.holding)).toEqual([true, true, false, false, false]);
    expect([gate.holding, gate.waiting]).toEqual([2, 3]);
    turns.get('b')?.leave();
    turns.get('a')?.leave();
    await flush();
    expect(granted).toEqual(['a', 'b', 'c', 'd']);
    expect([gate.holding, gate.waiting]).toEqual([2, 1]);
    // The slot freed goes to the oldest place waiting, not to one joining after.
    turns.get('c')?.leave();
    const late = gate.join();
    expect(turns.get('e')?.holding).toBe(true);
    expect(late.holding).toBe(false);
  });

  it('a place left while waiting is never granted and frees nothing; leaving twice frees once', async () => {
    const gate = createGate({ slots: 1, holdMs: 1000 });
    const first = gate.join();
    const second = gate.join();
    const third = gate.join();
    second.leave();
    expect(await second.ready).toBe(false);
    expect([gate.holding, gate.waiting]).toEqual([1, 1]);
    first.leave();
    first.leave();
    expect(await third.ready).toBe(true);
    expect([gate.holding, gate.waiting]).toEqual([1, 0]);
    const fourth = gate.join();
    expect(fourth.holding).toBe(false);
    third.leave();
    expect(fourth.holding).toBe(true);
  });

  it('frees a slot held longer than holdMs and says so', () => {
    const gate = createGate({ slots: 1, holdMs: 1000 });
    const expired = vi.fn();
    const slow = gate.join(expired);
    const next = gate.join();
    vi.advanceTimersByTime(999);
    expect(next.holding).toBe(false);
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledOnce();
    expect(slow.holding).toBe(false);
    expect(next.holding).toBe(true);
    // Its holder leaving late frees nothing more.
    slow.leave();
    expect(gate.holding).toBe(1);
    // A slot left in time does not expire later.
    next.leave();
    vi.advanceTimersByTime(5000);
    expect(expired).toHaveBeenCalledOnce();
  });

  it('without a limit nobody waits; a limit below one is refused', () => {
    const gate = createGate({ slots: Number.POSITIVE_INFINITY, holdMs: 1000 });
    const turns = Array.from({ length: 100 }, () => gate.join());
    expect(turns.every((turn) => turn.holding)).toBe(true);
    expect(() => createGate({ slots: 0, holdMs: 1000 })).toThrow(RangeError);
  });
});

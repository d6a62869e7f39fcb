import { describe, expect, it } from 'vitest';
import { clipGaps, onlineIntervals, onlineSeconds, summarise } from '../../src/presence/history.js';
import type { IntervalOptions, ListeningGap, OnlineInterval, PresenceChange } from '../../src/presence/history.js';
import type { PresenceStatus } from '../../src/presence/status.js';

const c = (presence: PresenceStatus, at: number, lastSeen: number | null = null): PresenceChange => ({ presence, at, lastSeen });
const i = (from: number, to: number, open = false): OnlineInterval => ({ from, to, seconds: to - from, open });
const range = (gaps: ListeningGap[] = [], extra: Partial<IntervalOptions> = {}): IntervalOptions => ({ from: 0, to: 1000, gaps, ...extra });

describe('onlineIntervals', () => {
  it.each<[string, PresenceChange[], IntervalOptions, OnlineInterval[]]>([
    ['no changes: never online', [], range(), []],
    ['online then offline', [c('online', 10), c('offline', 40)], range(), [i(10, 40)]],
    ['offline with last seen ends the interval at last seen', [c('online', 10), c('offline', 45, 30)], range(), [i(10, 30)]],
    ['a last seen before the interval (carried over) is ignored', [c('online', 10), c('offline', 45, 5)], range(), [i(10, 45)]],
    ['hidden last seen ends when we learned it', [c('online', 10), c('offline', 45, null)], range(), [i(10, 45)]],
    ['typing, recording and paused count as online', [c('typing', 10), c('recording', 20), c('paused', 30), c('offline', 50)], range(), [i(10, 50)]],
    ['still online at the end is open', [c('online', 900)], range(), [i(900, 1000, true)]],
    ['offline repeated changes nothing', [c('online', 10), c('offline', 20), c('offline', 30, 20)], range(), [i(10, 20)]],
    ['two intervals', [c('online', 10), c('offline', 20), c('online', 50), c('offline', 80)], range(), [i(10, 20), i(50, 80)]],
    ['online before the range goes on from its start', [c('offline', 30)], range([], { from: 0, before: c('online', -50) }), [i(0, 30)]],
    ['offline before the range: nothing from its start', [c('online', 30)], range([], { before: c('offline', -50) }), [i(30, 1000, true)]],
    ['a gap between the last change and the range: unknown', [c('offline', 30)], range([{ from: -10, to: 5 }], { before: c('online', -50) }), []],
    ['a gap ends the interval at its start', [c('online', 10), c('offline', 500)], range([{ from: 100, to: 200 }]), [i(10, 100)]],
    ['after a gap, online again only with a new change', [c('online', 10), c('online', 300), c('offline', 400)], range([{ from: 100, to: 200 }]), [i(10, 100), i(300, 400)]],
    ['an open gap ends the interval and nothing follows', [c('online', 10)], range([{ from: 100, to: null }]), [i(10, 100)]],
    ['merge: intervals closer than gap seconds are one', [c('online', 10), c('offline', 20), c('online', 25), c('offline', 40)], range([], { mergeGap: 10 }), [i(10, 40)]],
    ['merge: farther apart stay apart', [c('online', 10), c('offline', 20), c('online', 35), c('offline', 40)], range([], { mergeGap: 10 }), [i(10, 20), i(35, 40)]],
    ['merge never crosses a listening gap', [c('online', 10), c('offline', 20), c('online', 25), c('offline', 40)], range([{ from: 21, to: 24 }], { mergeGap: 10 }), [i(10, 20), i(25, 40)]],
    ['merge keeps the open end', [c('online', 10), c('offline', 20), c('online', 22)], range([], { mergeGap: 5 }), [i(10, 1000, true)]],
    ['changes outside the range are ignored', [c('online', -5), c('online', 10), c('offline', 20), c('online', 2000)], range(), [i(10, 20)]],
  ])('%s', (_name, changes, options, expected) => {
    expect(onlineIntervals(changes, options)).toEqual(expected);
  });

  it('keeps milliseconds as a fraction of a second', () => {
    const intervals = onlineIntervals([c('online', 10.25), c('offline', 12.5)], range());
    expect(intervals).toEqual([{ from: 10.25, to: 12.5, seconds: 2.25, open: false }]);
    expect(onlineSeconds(intervals)).toBe(2.25);
  });
});

describe('clipGaps', () => {
  it('clips to the range, closes open gaps at its end and joins overlaps', () => {
    expect(clipGaps([{ from: 900, to: null }, { from: -5, to: 10 }, { from: 5, to: 20 }, { from: 2000, to: 3000 }], 0, 1000)).toEqual([
      { from: 0, to: 20 },
      { from: 900, to: 1000 },
    ]);
  });
});

describe('summarise', () => {
  it('counts, sums and names the first and last online', () => {
    expect(summarise([i(10, 20), i(50, 80, true)])).toEqual({ onlineSeconds: 40, intervals: 2, firstOnline: 10, lastOnline: 80 });
    expect(summarise([])).toEqual({ onlineSeconds: 0, intervals: 0, firstOnline: null, lastOnline: null });
  });
});

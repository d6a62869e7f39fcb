import type { PresenceStatus } from './status.js';

/**
 * Presence history: what a participant's stored changes say about when they were online.
 * Times are Unix seconds (a fraction carries milliseconds); `lastSeen` is WhatsApp's, whole seconds.
 */

/** Bounds of a retention (days), per session (`presenceHistory.retentionDays`) and server-wide. */
export const HISTORY_RETENTION_DAYS = { min: 1, max: 365, default: 30 } as const;

/** One stored change of a participant's presence, at the time we learned it. */
export interface PresenceChange {
  readonly presence: PresenceStatus;
  /** When we learned it, Unix seconds. */
  readonly at: number;
  /** For `offline`: when WhatsApp says they were last online (null when hidden or unknown). */
  readonly lastSeen: number | null;
}

/** A time in which the session could not hear (not WORKING, server down). `to` null: still going. */
export interface ListeningGap {
  readonly from: number;
  readonly to: number | null;
}

export interface OnlineInterval {
  readonly from: number;
  readonly to: number;
  readonly seconds: number;
  /** Still going at the end of the range. */
  readonly open: boolean;
}

export interface IntervalOptions {
  /** The range asked for, Unix seconds. */
  readonly from: number;
  readonly to: number;
  readonly gaps: readonly ListeningGap[];
  /** The participant's last change before `from`, so an interval already going at `from` is seen. */
  readonly before?: PresenceChange | null;
  /** Intervals separated by less than this many seconds (and no gap) are one. 0: none merged. */
  readonly mergeGap?: number;
}

/** online, typing, recording and paused all mean "has the app open". */
export function isOnlinePresence(presence: PresenceStatus): boolean {
  return presence !== 'offline';
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function interval(from: number, to: number, open: boolean): OnlineInterval {
  return { from, to, seconds: round(Math.max(0, to - from)), open };
}

/** Gaps clipped to [from, to], sorted, overlapping ones joined; an open gap lasts until `to`. */
export function clipGaps(gaps: readonly ListeningGap[], from: number, to: number): { from: number; to: number }[] {
  const clipped = gaps
    .map((gap) => ({ from: Math.max(from, gap.from), to: Math.min(to, gap.to ?? to) }))
    .filter((gap) => gap.from < gap.to || (gap.from === gap.to && gap.from > from && gap.from < to))
    .sort((a, b) => a.from - b.from);
  const joined: { from: number; to: number }[] = [];
  for (const gap of clipped) {
    const last = joined.at(-1);
    if (last !== undefined && gap.from <= last.to) last.to = Math.max(last.to, gap.to);
    else joined.push({ ...gap });
  }
  return joined;
}

/**
 * Builds online intervals from changes pushed in time order, with flat memory (the summary and the
 * export fold millions of rows through it). An interval ends at an `offline` (at its `lastSeen`
 * when that falls within the interval, else when we learned it) or at the start of a gap: we were
 * not listening, and after the gap nothing is claimed until the next change.
 */
export function createIntervalBuilder(options: IntervalOptions, emit: (interval: OnlineInterval) => void): {
  push(change: PresenceChange): void;
  finish(): void;
} {
  const { from, to } = options;
  const mergeGap = options.mergeGap ?? 0;
  const gaps = clipGaps(options.gaps, from, to);
  let nextGap = 0;
  let start: number | null = null;
  let pending: OnlineInterval | null = null;
  /** Whether a gap began since `pending` ended: never merge across time we did not hear. */
  let gapSincePending = false;

  function close(end: number, open: boolean): void {
    if (start === null) return;
    const made = interval(start, Math.max(start, end), open);
    start = null;
    if (pending !== null && !gapSincePending && made.from - pending.to < mergeGap) {
      pending = interval(pending.from, made.to, made.open);
      return;
    }
    if (pending !== null) emit(pending);
    pending = made;
    gapSincePending = false;
  }

  function passGapsUntil(time: number): void {
    for (let gap = gaps[nextGap]; gap !== undefined && gap.from <= time; gap = gaps[++nextGap]) {
      close(gap.from, false);
      gapSincePending = true;
    }
  }

  const before = options.before ?? null;
  if (before !== null && isOnlinePresence(before.presence) && before.at <= from) {
    // Unknown if a gap began between that change and the range.
    if (!options.gaps.some((gap) => gap.from >= before.at && gap.from < from)) start = from;
  }

  return {
    push(change) {
      if (change.at < from || change.at > to) return;
      passGapsUntil(change.at);
      if (isOnlinePresence(change.presence)) {
        start ??= change.at;
        return;
      }
      const seen = change.lastSeen;
      close(seen !== null && start !== null && seen >= start && seen <= change.at ? seen : change.at, false);
    },
    finish() {
      passGapsUntil(to);
      close(to, true);
      if (pending !== null) emit(pending);
      pending = null;
    },
  };
}

/** The online intervals of one participant's changes (sorted by `at`) within [from, to]. */
export function onlineIntervals(changes: readonly PresenceChange[], options: IntervalOptions): OnlineInterval[] {
  const intervals: OnlineInterval[] = [];
  const builder = createIntervalBuilder(options, (made) => intervals.push(made));
  for (const change of changes) builder.push(change);
  builder.finish();
  return intervals;
}

export function onlineSeconds(intervals: readonly OnlineInterval[]): number {
  return round(intervals.reduce((sum, made) => sum + made.seconds, 0));
}

/** One participant's range in numbers. */
export interface OnlineSummary {
  readonly onlineSeconds: number;
  readonly intervals: number;
  /** Start of the first online interval in the range, null when never online. */
  readonly firstOnline: number | null;
  /** End of the last online interval (the range's end when still online), null when never online. */
  readonly lastOnline: number | null;
}

/** Folds intervals into a summary without keeping them. */
export function createSummaryFold(): { add(interval: OnlineInterval): void; result(): OnlineSummary } {
  let seconds = 0;
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  return {
    add(made) {
      seconds += made.seconds;
      count += 1;
      first ??= made.from;
      last = made.to;
    },
    result: () => ({ onlineSeconds: round(seconds), intervals: count, firstOnline: first, lastOnline: last }),
  };
}

export function summarise(intervals: readonly OnlineInterval[]): OnlineSummary {
  const fold = createSummaryFold();
  for (const made of intervals) fold.add(made);
  return fold.result();
}

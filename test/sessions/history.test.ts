import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionConfig } from '../../src/presence/sessions.js';
import { createHistoryRecorder } from '../../src/sessions/history-recorder.js';
import type { HistoryRecorder } from '../../src/sessions/history-recorder.js';
import { createRetentionJob } from '../../src/sessions/history-retention.js';
import type { Storage } from '../../src/storage/index.js';
import { openSqliteStorage } from '../../src/storage/sqlite/open.js';

const logger = pino({ level: 'silent' });
const ON: SessionConfig = { presenceHistory: { enabled: true } };
const A = '1@c.us';
const DAY = 86_400_000;

describe('presence history recorder and retention (SQLite)', () => {
  let dir: string;
  let storage: Storage;
  let now: number;
  const recorders: HistoryRecorder[] = [];
  const clock = { now: (): number => now };

  function recorder(enabled = false, extra: { maxPending?: number } = {}): HistoryRecorder {
    const made = createHistoryRecorder({ store: storage.history, defaults: { enabled, retentionDays: 30 }, logger, clock, ...extra });
    recorders.push(made);
    return made;
  }

  const rows = (session = 's', chatId = A): Promise<unknown[]> => storage.history.range({ session, chatId, from: 0, to: Number.MAX_SAFE_INTEGER });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-history-'));
    storage = await openSqliteStorage({ dataDir: dir });
    now = 1_800_000_000_000;
  });

  afterEach(async () => {
    await Promise.all(recorders.splice(0).map((made) => made.close()));
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores each change once: equal consecutive states are one row, in memory and after a restart', async () => {
    const first = recorder();
    first.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    now += 1000;
    first.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    first.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'offline', lastSeen: 1_800_000_000 }]);
    await first.flush();
    expect(await rows()).toEqual([
      { chatId: A, participant: A, presence: 'online', at: 1_800_000_000_000, lastSeen: null },
      { chatId: A, participant: A, presence: 'offline', at: 1_800_000_001_000, lastSeen: 1_800_000_000 },
    ]);
    const restarted = recorder();
    restarted.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'offline', lastSeen: 1_800_000_000 }]);
    restarted.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'typing', lastSeen: 1_800_000_000 }]);
    await restarted.flush();
    expect((await rows()).map((row) => (row as { presence: string }).presence)).toEqual(['online', 'offline', 'typing']);
  });

  it('writes changes learned close together in one append (one transaction), not one each', async () => {
    const appends: number[] = [];
    // A counting wrapper over the real store: it passes every call through and records append sizes.
    const counted = { ...storage.history, append: (changes: Parameters<Storage['history']['append']>[0]) => (appends.push(changes.length), storage.history.append(changes)) };
    const made = createHistoryRecorder({ store: counted, defaults: { enabled: true, retentionDays: 30 }, logger, clock, batchDelayMs: 50 });
    recorders.push(made);
    for (let k = 0; k < 50; k += 1) made.changed('s', {}, `${k}@c.us`, [{ participant: `${k}@c.us`, lastKnownPresence: 'online', lastSeen: null }]);
    await made.flush();
    expect(appends).toEqual([50]);
  });

  it('records nothing for a session with history off; the session config overrides the server default', async () => {
    const off = recorder(false);
    off.changed('s', {}, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    off.changed('t', ON, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    const on = recorder(true);
    on.changed('u', { presenceHistory: { enabled: false } }, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    on.changed('v', {}, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    await Promise.all([off.flush(), on.flush()]);
    expect([(await rows('s')).length, (await rows('t')).length, (await rows('u')).length, (await rows('v')).length]).toEqual([0, 1, 0, 1]);
    expect(on.retentionDays({ presenceHistory: { retentionDays: 7 } })).toBe(7);
    expect(on.retentionDays(null)).toBe(30);
  });

  it('turns leaving WORKING into a gap and WORKING again into its end', async () => {
    const made = recorder();
    made.status('s', ON, 'STARTING');
    made.status('s', ON, 'WORKING');
    now += 5000;
    made.status('s', ON, 'STARTING');
    now += 3000;
    made.status('s', ON, 'WORKING');
    now += 1000;
    // History turned off by a config update (restart): the stop still ends the listening.
    made.status('s', {}, 'STOPPED');
    await made.flush();
    expect(await storage.history.gaps('s', 0, Number.MAX_SAFE_INTEGER)).toEqual([
      { from: 1_800_000_005_000, to: 1_800_000_008_000 },
      { from: 1_800_000_009_000, to: null },
    ]);
    made.status('x', {}, 'WORKING');
    made.status('x', {}, 'STOPPED');
    await made.flush();
    expect(await storage.history.gaps('x', 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('drops changes past the queue bound instead of growing, and counts them', async () => {
    const made = recorder(false, { maxPending: 2 });
    for (let at = 0; at < 5; at += 1) {
      made.changed('s', ON, A, [{ participant: A, lastKnownPresence: at % 2 === 0 ? 'online' : 'offline', lastSeen: null }]);
    }
    expect(made.dropped).toBeGreaterThan(0);
    await made.flush();
    expect((await rows()).length).toBe(5 - made.dropped);
  });

  it('after forgetting a chat, the current state is recorded again', async () => {
    const made = recorder();
    made.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    await made.flush();
    expect(await made.forgetChat('s', A)).toBe(1);
    made.changed('s', ON, A, [{ participant: A, lastKnownPresence: 'online', lastSeen: null }]);
    await made.flush();
    expect(await rows()).toHaveLength(1);
    await made.forget('s');
    expect(await rows()).toHaveLength(0);
  });

  it('retention removes rows older than each session\'s retention, in bounded batches, by the injected clock', async () => {
    const ages = [40, 31, 29, 5, 1];
    await storage.history.append(ages.map((days, index) => ({ session: 's', chatId: A, participant: A, presence: index % 2 === 0 ? 'online' : 'offline', at: now - days * DAY, lastSeen: null })));
    await storage.history.append(ages.map((days) => ({ session: 'short', chatId: A, participant: A, presence: 'online', at: now - days * DAY, lastSeen: null })));
    const configs: Record<string, SessionConfig> = { short: { presenceHistory: { retentionDays: 7 } } };
    let pauses = 0;
    const job = createRetentionJob({
      store: storage.history,
      configOf: (session) => Promise.resolve(configs[session] ?? null),
      retentionDays: (config) => config?.presenceHistory?.retentionDays ?? 30,
      logger,
      clock,
      batchSize: 1,
      pause: () => {
        pauses += 1;
        return Promise.resolve();
      },
    });
    expect(await job.runOnce()).toEqual({ sessions: 2, deleted: 5, batches: 7 });
    expect(pauses).toBe(5);
    expect((await rows('s')).length).toBe(3);
    expect((await rows('short')).length).toBe(2);
    now += 2 * DAY;
    expect((await job.runOnce())?.deleted).toBe(1);
    expect((await rows('s')).length).toBe(2);
  });
});

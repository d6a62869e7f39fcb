import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createOwnership } from '../../src/cluster/ownership.js';
import type { LocalSessions, Ownership } from '../../src/cluster/ownership.js';
import { AppError } from '../../src/errors.js';
import { LeaseLostError, openStorage } from '../../src/storage/index.js';
import type { LeaseStore, Storage } from '../../src/storage/index.js';
import { silentLogger } from '../support/harness.js';
import { clockAt } from '../../src/clock.js';
import type { Clock } from '../../src/clock.js';

const TTL = 9_000;
const HEARTBEAT = 3_000;

/** A clock the test moves by hand; storage and ownership judge lease expiry by it. */
function fakeClock(start = 1_000_000): Clock & { advance: (ms: number) => void } {
  let time = start;
  return { ...clockAt(() => time), advance: (ms) => void (time += ms) };
}

/**
 * Test double of the session manager's local part: records starts and detaches, and claims the
 * lease on start as the real manager does (so the fence is checked the same way).
 */
class RecordingLocalSessions implements LocalSessions {
  readonly started: string[] = [];
  readonly detached: string[] = [];
  readonly engines = new Set<string>();
  ownership: Ownership | null = null;

  async start(session: string): Promise<void> {
    if (this.ownership === null) throw new Error('RecordingLocalSessions: ownership not wired');
    await this.ownership.claim(session);
    this.started.push(session);
    this.engines.add(session);
  }

  detach(session: string): Promise<void> {
    this.detached.push(session);
    this.engines.delete(session);
    return Promise.resolve();
  }

  hasEngine(session: string): boolean {
    return this.engines.has(session);
  }
}

async function setup(): Promise<{ storage: Storage; clock: ReturnType<typeof fakeClock> }> {
  const clock = fakeClock();
  const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-cluster-'));
  const storage = await openStorage({ dataDir, databaseUrl: null, clock });
  onTestFinished(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { storage, clock };
}

async function addSessions(storage: Storage, names: readonly string[], running = true): Promise<void> {
  for (const name of names) {
    await storage.sessions.create({ name, engine: 'NOWEB', config: {}, running, me: null, presence: null, createdAt: 1, updatedAt: 1 });
  }
}

function server(
  storage: Storage,
  clock: ReturnType<typeof fakeClock>,
  serverId: string,
  capacity: number,
  leases: LeaseStore = storage.leases,
): { ownership: Ownership; local: RecordingLocalSessions } {
  const local = new RecordingLocalSessions();
  const ownership = createOwnership({
    serverId,
    leases,
    sessions: storage.sessions,
    local,
    capacity,
    ttlMs: TTL,
    heartbeatMs: HEARTBEAT,
    logger: silentLogger,
    clock,
  });
  local.ownership = ownership;
  onTestFinished(() => ownership.stop());
  return { ownership, local };
}

describe('ownership loop', () => {
  it('spreads sessions up to each capacity and starts only those the user wants running', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1', 's2', 's3', 's4']);
    await addSessions(storage, ['s5'], false);
    const a = server(storage, clock, 'a', 3);
    const b = server(storage, clock, 'b', 3);

    const first = await a.ownership.tick();
    await a.ownership.idle();
    expect(first.acquired).toEqual(['s1', 's2', 's3']);
    expect(a.local.started.sort()).toEqual(['s1', 's2', 's3']);

    const second = await b.ownership.tick();
    await b.ownership.idle();
    // s5, stopped by the user, has no owner: whichever server is asked to start it claims it.
    expect(second.acquired).toEqual(['s4']);
    expect(b.local.started).toEqual(['s4']);

    // Renewals keep everything where it is and start nothing twice.
    clock.advance(HEARTBEAT);
    expect(await a.ownership.tick()).toEqual({ lost: [], acquired: [], started: [] });
    expect(await b.ownership.tick()).toEqual({ lost: [], acquired: [], started: [] });
    expect(a.local.started).toHaveLength(3);
  });

  it('hands a dead server’s sessions to another after the TTL, with a new epoch that fences the old owner', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1', 's2']);
    const a = server(storage, clock, 'a', 10);
    const b = server(storage, clock, 'b', 10);
    await a.ownership.tick();
    await a.ownership.idle();
    const staleFence = await a.ownership.claim('s1');
    expect(staleFence).toEqual({ owner: 'a', epoch: 1 });

    // a stops heartbeating (killed, or paused). Before the TTL nothing moves.
    clock.advance(TTL - 1);
    expect((await b.ownership.tick()).acquired).toEqual([]);
    clock.advance(1);
    const takeover = await b.ownership.tick();
    await b.ownership.idle();
    expect(takeover.acquired).toEqual(['s1', 's2']);
    expect(b.local.started.sort()).toEqual(['s1', 's2']);
    expect(await b.ownership.claim('s1')).toEqual({ owner: 'b', epoch: 2 });

    // The paused owner's writes carry epoch 1 and are refused, nothing written.
    const stale = storage.auth.forSession('s1', staleFence);
    await expect(stale.set([{ category: 'creds', id: '', value: 'stale' }])).rejects.toBeInstanceOf(LeaseLostError);
    expect(await storage.auth.forSession('s1').get('creds', [''])).toEqual({});

    // When a resumes, its first heartbeat stops both engines before anything else.
    const resumed = await a.ownership.tick();
    expect(a.local.detached.sort()).toEqual(['s1', 's2']);
    expect(resumed.acquired).toEqual([]);
    expect(a.ownership.held()).toEqual([]);
    await expect(a.ownership.claim('s1')).rejects.toMatchObject({ code: 'SESSION_OWNED_ELSEWHERE', details: { server: 'b' } });
  });

  it('stops a session whose lease another server took while this one still believed it held it', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1']);
    const a = server(storage, clock, 'a', 10);
    await a.ownership.tick();
    // The lease runs out (a renewal went missing) and b takes it, all between two heartbeats of a
    // that it did not see coming: the renewal does not return it.
    clock.advance(TTL);
    const b = server(storage, clock, 'b', 10);
    await b.ownership.tick();
    clock.advance(-HEARTBEAT); // a's clock believes the lease is still valid (skew within bounds)
    const report = await a.ownership.tick();
    expect(report.lost).toEqual(['s1']);
    expect(a.local.detached).toEqual(['s1']);
  });

  it('releases every lease on shutdown so that another server takes over at once', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1', 's2']);
    const a = server(storage, clock, 'a', 10);
    const b = server(storage, clock, 'b', 10);
    await a.ownership.tick();
    expect((await b.ownership.tick()).acquired).toEqual([]);
    expect(await a.ownership.release()).toEqual(['s1', 's2']);
    const report = await b.ownership.tick();
    expect(report.acquired).toEqual(['s1', 's2']);
    expect(await b.ownership.claim('s2')).toEqual({ owner: 'b', epoch: 2 });
  });

  it('claims a free session on request, within the capacity, and says why when it cannot', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1', 's2'], false);
    const a = server(storage, clock, 'a', 1);
    expect(await a.ownership.claim('s2')).toEqual({ owner: 'a', epoch: 1 });
    // Taken on request: the heartbeat does not start it again.
    await a.ownership.tick();
    expect(a.local.started).toEqual([]);
    const full = a.ownership.claim('s1');
    await expect(full).rejects.toBeInstanceOf(AppError);
    await expect(full).rejects.toThrow(/already runs its 1 sessions/);
  });

  it('does not hand out a held lease that ran out: another server may have taken it', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1']);
    const a = server(storage, clock, 'a', 10);
    const b = server(storage, clock, 'b', 10);
    await a.ownership.tick();
    // a stalls past its lease (no heartbeat ran); b takes the session meanwhile.
    clock.advance(TTL);
    expect((await b.ownership.tick()).acquired).toEqual(['s1']);
    await expect(a.ownership.claim('s1')).rejects.toMatchObject({ code: 'SESSION_OWNED_ELSEWHERE', details: { server: 'b' } });
    // Ran out but nobody took it: a gets it back, under a new epoch.
    clock.advance(TTL);
    expect(await a.ownership.claim('s1')).toEqual({ owner: 'a', epoch: 3 });
  });

  it('takes a session that should run and has no live lease at once, however recently it changed', async () => {
    const { storage, clock } = await setup();
    await storage.sessions.create({ name: 's1', engine: 'NOWEB', config: {}, running: true, me: null, presence: null, createdAt: clock.now(), updatedAt: clock.now() });
    const a = server(storage, clock, 'a', 10);
    // A server creating or starting a session holds its lease before marking it running, so
    // nobody is about to claim it: waiting would only delay the start.
    expect((await a.ownership.tick()).acquired).toEqual(['s1']);
  });

  it('stops its sessions when it cannot renew before the leases would expire', async () => {
    const { storage, clock } = await setup();
    await addSessions(storage, ['s1']);
    let failing = false;
    const flaky: LeaseStore = {
      ...storage.leases,
      renew: (owner, ttl) => (failing ? Promise.reject(new Error('database unreachable (test double)')) : storage.leases.renew(owner, ttl)),
    };
    const a = server(storage, clock, 'a', 10, flaky);
    await a.ownership.tick();
    failing = true;
    clock.advance(HEARTBEAT);
    expect((await a.ownership.tick()).lost).toEqual([]);
    expect(a.local.detached).toEqual([]);
    clock.advance(HEARTBEAT);
    // Two heartbeats failed: one more and the lease may be gone; stop now rather than risk two owners.
    expect((await a.ownership.tick()).lost).toEqual(['s1']);
    expect(a.local.detached).toEqual(['s1']);
  });

  it('refuses a heartbeat as long as the TTL', () => {
    const clock = fakeClock();
    expect(() =>
      createOwnership({
        serverId: 'a',
        leases: {} as LeaseStore,
        sessions: { list: () => Promise.resolve([]) },
        local: new RecordingLocalSessions(),
        capacity: 1,
        ttlMs: 1000,
        heartbeatMs: 1000,
        logger: silentLogger,
        clock,
      }),
    ).toThrow(/shorter than the lease TTL/);
  });
});

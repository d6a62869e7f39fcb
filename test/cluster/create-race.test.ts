import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { describePostgres } from '../support/postgres.js';
import { createOwnership } from '../../src/cluster/ownership.js';
import type { LocalSessions, Ownership } from '../../src/cluster/ownership.js';
import { createSharedStatuses } from '../../src/cluster/statuses.js';
import type { SessionInfo } from '../../src/presence/sessions.js';
import { createClusterSessionOwnership } from '../../src/cluster/session-ownership.js';
import { createSessionManager } from '../../src/sessions/manager.js';
import type { SessionManager } from '../../src/sessions/manager.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/index.js';
import { clusterSchema, startMember } from '../support/cluster.js';
import { FakeEngineFactory } from '../support/fake-engine.js';
import { recordingClock, silentLogger } from '../support/harness.js';
import { RecordingPublisher, sessionEventsOver } from '../support/recording-publisher.js';

const TTL = 9_000;

/** Test double of another server's session manager: claims on start, as the real one does, and records. */
class RecordingLocalSessions implements LocalSessions {
  readonly started: string[] = [];
  ownership: Ownership | null = null;

  async start(session: string): Promise<void> {
    if (this.ownership === null) throw new Error('RecordingLocalSessions: ownership not wired');
    await this.ownership.claim(session);
    this.started.push(session);
  }

  detach(): Promise<void> {
    return Promise.reject(new Error('RecordingLocalSessions: no session should be lost in this test'));
  }

  hasEngine(session: string): boolean {
    return this.started.includes(session);
  }
}

/**
 * Two servers on one database with a hand-moved clock: server a is a real session manager (fake
 * engines), server b only its ownership loop. `afterRunningWrite` runs inside a's storage right
 * after a session row is written with running: true: the moment another server's heartbeat can
 * see the session as one that should run.
 */
async function twoServers(options: { readonly capacityOfA?: number } = {}): Promise<{
  storage: Storage;
  manager: SessionManager;
  engines: FakeEngineFactory;
  b: { ownership: Ownership; local: RecordingLocalSessions };
  advance(ms: number): void;
  afterRunningWrite(hook: () => Promise<void>): void;
}> {
  let now = 1_000_000;
  const clock = { ...recordingClock(), now: (): number => now };
  const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-race-'));
  const storage = await openStorage({ dataDir, databaseUrl: null, clock });
  onTestFinished(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  let hook: (() => Promise<void>) | null = null;
  const watched: Storage = {
    ...storage,
    sessions: {
      ...storage.sessions,
      update: async (session) => {
        const done = await storage.sessions.update(session);
        const run = hook;
        if (session.running && run !== null) {
          hook = null;
          await run();
        }
        return done;
      },
    },
  };
  const engines = new FakeEngineFactory();
  let manager: SessionManager | null = null;
  const a = createOwnership({
    serverId: 'a',
    leases: storage.leases,
    sessions: storage.sessions,
    local: {
      start: (session) => (manager === null ? Promise.reject(new Error('no manager')) : manager.start(session)),
      detach: (session) => (manager === null ? Promise.resolve() : manager.detach(session)),
      hasEngine: (session) => manager?.hasEngine(session) ?? false,
    },
    capacity: options.capacityOfA ?? 10,
    ttlMs: TTL,
    logger: silentLogger,
    clock,
  });
  manager = createSessionManager({
    storage: watched,
    engines,
    events: sessionEventsOver(new RecordingPublisher()),
    logger: silentLogger,
    clock,
    ownership: createClusterSessionOwnership({
      serverId: 'a',
      claim: (session) => a.claim(session),
      leases: storage.leases,
      statuses: storage.statuses,
      sharedStatuses: createSharedStatuses(storage),
    }),
  });
  const bLocal = new RecordingLocalSessions();
  const b = createOwnership({ serverId: 'b', leases: storage.leases, sessions: storage.sessions, local: bLocal, capacity: 10, ttlMs: TTL, logger: silentLogger, clock });
  bLocal.ownership = b;
  const created = manager;
  onTestFinished(() => created.shutdown());
  return {
    storage,
    manager: created,
    engines,
    b: { ownership: b, local: bLocal },
    advance: (ms) => void (now += ms),
    afterRunningWrite: (run) => void (hook = run),
  };
}

describePostgres('creating a session while other servers heartbeat', () => {
  it('a heartbeat right after the session is marked running does not take it from the server creating it', async () => {
    const servers = await twoServers();
    let taken: string[] | null = null;
    servers.afterRunningWrite(async () => {
      taken = (await servers.b.ownership.tick()).acquired.slice();
    });
    const created = await servers.manager.create({ name: 's1' });
    expect(taken).toEqual([]);
    expect(created).toMatchObject({ name: 's1', status: 'STARTING', worker: 'a' });
    expect(servers.engines.latest('s1').state).toBe('started');
  });

  it('answers 201-style with the session where it runs when the creating server stalled past the lease and another took it', async () => {
    const servers = await twoServers();
    // a is paused for a whole lease between marking the session running and starting its
    // engine; b's heartbeat meanwhile sees a running session without a live lease and takes it.
    servers.afterRunningWrite(async () => {
      servers.advance(TTL);
      expect((await servers.b.ownership.tick()).acquired).toEqual(['s1']);
      await servers.b.ownership.idle();
    });
    const created = await servers.manager.create({ name: 's1' });
    expect(created).toMatchObject({ name: 's1', status: 'STARTING', worker: 'b' });
    // a started no engine of its own for it: one connection per device.
    expect(servers.engines.engines).toEqual([]);
    expect(servers.b.local.started).toEqual(['s1']);
    expect(await servers.manager.list(false)).toEqual([created]);
    // A real name conflict is still one.
    await expect(servers.manager.create({ name: 's1' })).rejects.toMatchObject({ code: 'SESSION_EXISTS' });
  });

  it('creates the session on a full server and lets a server with room run it', async () => {
    const servers = await twoServers({ capacityOfA: 0 });
    const created = await servers.manager.create({ name: 's1' });
    expect(created).toMatchObject({ name: 's1', status: 'STARTING' });
    expect(created).not.toHaveProperty('worker');
    expect((await servers.storage.sessions.get('s1'))?.running).toBe(true);
    expect((await servers.b.ownership.tick()).acquired).toEqual(['s1']);
    expect(await servers.manager.list(false)).toMatchObject([{ name: 's1', status: 'STARTING', worker: 'b' }]);
  });
});

describePostgres('POST /api/sessions on PostgreSQL while another server heartbeats back to back', () => {
  it('answers 201 with the placed server as worker for every new session, holding its lease, and 409 only for a taken name', async () => {
    const schema = clusterSchema();
    const a = await startMember(schema, 'a');
    // A 2 ms heartbeat: b lists and acquires all the time, so it would catch any moment when a
    // created session should run and has no lease.
    const b = await startMember(schema, 'b', { heartbeatMs: 2 });
    const answers: { status: number; body: SessionInfo }[] = [];
    for (let round = 0; round < 5; round += 1) {
      answers.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => a.request<SessionInfo>('POST', '/api/sessions', { name: `r${round}-${i}` })))));
    }
    // Placement sends some creates to b; whichever server answers as worker holds the lease.
    expect(answers.map((answer) => [answer.status, answer.body.status])).toEqual(answers.map(() => [201, 'STARTING']));
    for (const answer of answers) {
      expect(['a', 'b']).toContain(answer.body.worker);
      expect((await a.storage.leases.get(answer.body.name))?.owner, answer.body.name).toBe(answer.body.worker);
    }
    const again = await b.request('POST', '/api/sessions', { name: 'r0-0' });
    expect(again).toMatchObject({ status: 409, body: { code: 'SESSION_EXISTS' } });
  });
});

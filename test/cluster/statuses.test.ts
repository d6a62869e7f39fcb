import { expect, it } from 'vitest';
import { describePostgres } from '../support/postgres.js';
import { sharedStatus } from '../../src/cluster/statuses.js';
import type { SessionInfo } from '../../src/presence/sessions.js';
import type { Lease } from '../../src/storage/leases.js';
import type { RuntimeStatus } from '../../src/storage/statuses.js';
import { clusterSchema, startMember } from '../support/cluster.js';
import type { ClusterMember } from '../support/cluster.js';
import { ME } from '../support/http.js';
import { poll } from '../support/poll.js';

const lease = (owner: string, epoch: number): Lease => ({ session: 's', owner, epoch, expiresAt: Number.MAX_SAFE_INTEGER });
const row = (server: string, epoch: number, status: RuntimeStatus['status'], engine = true, reason: string | null = null): RuntimeStatus => ({ session: 's', status, server, epoch, engine, at: 1, reason });

describePostgres('a session as the cluster sees it (shared status and live lease)', () => {
  it.each([
    ['the owner’s row, while it holds the lease it wrote under', true, row('a', 2, 'WORKING'), lease('a', 2), { status: 'WORKING', worker: 'a' }],
    ['the owner’s row without an engine (stopped there): no worker', false, row('a', 2, 'STOPPED', false), lease('a', 2), { status: 'STOPPED' }],
    ['the owner’s row with its reason', false, row('a', 2, 'FAILED', false, 'banned'), lease('a', 2), { status: 'FAILED', reason: 'banned' }],
    ['an untrusted row’s reason is not repeated', true, row('a', 2, 'FAILED', false, 'banned'), lease('b', 3), { status: 'STARTING', worker: 'b' }],
    ['a row of a server whose lease expired, session should run', true, row('a', 2, 'WORKING'), undefined, { status: 'STARTING' }],
    ['a row of an older epoch: the new owner is starting it', true, row('a', 2, 'WORKING'), lease('b', 3), { status: 'STARTING', worker: 'b' }],
    ['the same server at a new epoch (restarted) has not written yet', true, row('a', 2, 'WORKING'), lease('a', 3), { status: 'STARTING', worker: 'a' }],
    ['no row, no lease, should not run', false, undefined, undefined, { status: 'STOPPED' }],
    ['no row, a lease: taken, not reported yet', true, undefined, lease('c', 1), { status: 'STARTING', worker: 'c' }],
    ['an untrusted row of a session that should not run', false, row('a', 1, 'WORKING'), undefined, { status: 'STOPPED' }],
  ] as const)('%s', (_, running, reported, live, expected) => {
    expect(sharedStatus({ running }, reported, live)).toEqual(expected);
  });
});

/** Polls `read` until `holds` (the servers' heartbeats run on real time). */
function eventually<T>(what: string, read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  return poll(read, holds, { what, timeoutMs, everyMs: 50 });
}

async function list(server: ClusterMember, all = false): Promise<SessionInfo[]> {
  const response = await server.request<SessionInfo[]>('GET', `/api/sessions${all ? '?all=true' : ''}`);
  expect(response.status).toBe(200);
  return response.body;
}

const byName = (infos: readonly SessionInfo[]): Record<string, Pick<SessionInfo, 'status' | 'worker'>> =>
  Object.fromEntries(infos.map((info) => [info.name, info.worker === undefined ? { status: info.status } : { status: info.status, worker: info.worker }]));

describePostgres('GET /api/sessions on any of three servers on PostgreSQL', () => {
  it('lists every session with its real status and worker, as GET /api/sessions/{session} on its owner answers', async () => {
    const schema = clusterSchema();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => startMember(schema, id)));
    if (a === undefined || b === undefined || c === undefined) throw new Error('three servers');

    // Placement: each create goes to the least-loaded server, the one asked on a tie; asked in this
    // order, each server is the least loaded when it is asked.
    for (const [server, name] of [[a, 'a1'], [b, 'b1'], [c, 'c1'], [a, 'a2']] as const) {
      const created = await server.request<SessionInfo>('POST', '/api/sessions', { name });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ status: 'STARTING', worker: server.id });
    }
    expect((await c.request('POST', '/api/sessions', { name: 'idle', start: false })).status).toBe(201);
    a.engines.latest('a1').working(ME);
    a.engines.latest('a2').status('SCAN_QR_CODE');
    await Promise.all([a.app.sessions.settled('a1'), a.app.sessions.settled('a2')]);

    const expected = { a1: { status: 'WORKING', worker: 'a' }, a2: { status: 'SCAN_QR_CODE', worker: 'a' }, b1: { status: 'STARTING', worker: 'b' }, c1: { status: 'STARTING', worker: 'c' } };
    for (const server of [a, b, c]) {
      expect(byName(await list(server))).toEqual(expected);
      expect(byName(await list(server, true))).toEqual({ ...expected, idle: { status: 'STOPPED' } });
    }
    // Field for field what the owner answers for the session (the single GET is forwarded to it).
    const fromB = await list(b, true);
    for (const info of fromB) expect((await c.request('GET', `/api/sessions/${info.name}`)).body).toEqual(info);
    expect(fromB.find((info) => info.name === 'a1')?.me).toEqual(ME);

    // A stop asked of another server is forwarded to the owner; every list says STOPPED, without worker.
    expect((await c.request('POST', '/api/sessions/a2/stop')).body).toMatchObject({ status: 'STOPPED' });
    expect(byName(await list(b, true))['a2']).toEqual({ status: 'STOPPED' });
    expect((await list(c)).map((info) => info.name)).toEqual(['a1', 'b1', 'c1']);

    // WhatsApp ends b1 on b (banned): every server's list says so, with the reason, as b's GET does.
    b.engines.latest('b1').working(ME);
    await b.app.sessions.settled('b1');
    b.engines.latest('b1').endedByWhatsApp('FAILED', 'banned (403)');
    await b.app.sessions.settled('b1');
    const banned = (await list(c, true)).find((info) => info.name === 'b1');
    expect(banned).toMatchObject({ status: 'FAILED', reason: 'banned (403)' });
    expect((await a.request('GET', '/api/sessions/b1')).body).toEqual(banned);

    // a shuts down: its engines stop and its leases go. What it last wrote is not believed: a1,
    // which should run, is STARTING until b or c has taken it, then reported by its new owner.
    await a.stop();
    const taken = await eventually(
      'a1 taken over',
      async () => byName(await list(b, true)),
      (now) => now['a1']?.worker === 'b' || now['a1']?.worker === 'c',
    );
    expect(taken).toMatchObject({ a1: { status: 'STARTING' }, a2: { status: 'STOPPED' }, b1: { status: 'FAILED' }, idle: { status: 'STOPPED' } });
    const owner = taken['a1']?.worker === 'b' ? b : c;
    // Its heartbeat starts the session in the background: wait for the engine, then log it in.
    await eventually('a1 started on its new owner', () => Promise.resolve(owner.engines.engines.some((engine) => engine.session === 'a1' && engine.state === 'started')), (started) => started);
    owner.engines.latest('a1').working(ME);
    await owner.app.sessions.settled('a1');
    for (const server of [b, c]) expect(byName(await list(server))['a1']).toEqual({ status: 'WORKING', worker: owner.id });
  });
});

import pg from 'pg';
import { expect, it, onTestFinished } from 'vitest';
import { describePostgres } from '../../support/postgres.js';
import { startLeaseRenewer } from '../../../src/storage/postgres/lease-renewer.js';
import { openPostgresStorage } from '../../../src/storage/postgres/open.js';
import type { Storage } from '../../../src/storage/index.js';
import { CLUSTER_DATABASE_URL, clusterSchema, startMember } from '../../support/cluster.js';
import { silentLogger } from '../../support/harness.js';
import { until } from '../../support/poll.js';
import { ME } from '../../support/http.js';

const TTL = 1000;

/** Blocks this thread (the main event loop) for `ms`, as a long synchronous computation would. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Busy on purpose: no timer, no I/O callback of this thread runs meanwhile.
  }
}

async function storageWithLease(schema: string): Promise<Storage> {
  const storage = await openPostgresStorage({ url: CLUSTER_DATABASE_URL, schema, poolSize: 2 });
  onTestFinished(() => storage.close());
  await storage.sessions.create({ name: 's1', engine: 'NOWEB', config: {}, running: true, me: null, presence: null, createdAt: 1, updatedAt: 1 });
  expect((await storage.leases.acquire('a', { capacity: 1, ttlMs: TTL })).map((lease) => lease.epoch)).toEqual([1]);
  return storage;
}

function renewer(schema: string, boundMs: number): ReturnType<typeof startLeaseRenewer> {
  const started = startLeaseRenewer({ url: CLUSTER_DATABASE_URL, schema, serverId: 'a', ttlMs: TTL, periodMs: 200, boundMs, logger: silentLogger });
  onTestFinished(() => started.close());
  return started;
}

describePostgres('lease renewal in a thread of its own', () => {
  it('keeps the leases through a stall of the main thread longer than the TTL, within the bound', async () => {
    const schema = clusterSchema();
    const storage = await storageWithLease(schema);
    const thread = renewer(schema, 3 * TTL);
    // Answers on request like LeaseStore.renew (the heartbeat asks it so).
    expect((await thread.renew('a', TTL)).map((lease) => [lease.session, lease.owner, lease.epoch])).toEqual([['s1', 'a', 1]]);
    await expect(thread.renew('b', TTL)).rejects.toThrow(/renews a's leases/);

    stall(2 * TTL);
    const lease = await storage.leases.get('s1');
    expect(lease).toMatchObject({ owner: 'a', epoch: 1 });
    expect(await storage.leases.acquire('b', { capacity: 1, ttlMs: TTL })).toEqual([]);
  });

  it('answers a renewal that the database does not answer with an error within the TTL', async () => {
    const schema = clusterSchema();
    await storageWithLease(schema);
    const thread = renewer(schema, 3 * TTL);
    // Another connection holds the leases table: the thread's renewal waits on it.
    const blocker = new pg.Client({ connectionString: CLUSTER_DATABASE_URL });
    await blocker.connect();
    onTestFinished(() => blocker.end());
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${schema}.leases IN ACCESS EXCLUSIVE MODE`);
    const began = Date.now();
    await expect(thread.renew('a', TTL)).rejects.toThrow(/within 1000 ms|timeout/i);
    expect(Date.now() - began).toBeLessThan(3 * TTL);
    await blocker.query('ROLLBACK');
  });

  it('lets them run out when the main thread stays silent past the bound (a hung server)', async () => {
    const schema = clusterSchema();
    const storage = await storageWithLease(schema);
    renewer(schema, TTL);
    // Renewals stop once the thread has not been pinged for the bound; the lease then runs out.
    stall(3 * TTL);
    expect(await storage.leases.get('s1')).toBeNull();
    expect((await storage.leases.acquire('b', { capacity: 1, ttlMs: TTL })).map((lease) => [lease.owner, lease.epoch])).toEqual([['b', 2]]);
  });
});


describePostgres('a server whose event loop stalls', () => {
  it('keeps its WORKING session through a stall of two TTLs, and loses it to another server past the bound', async () => {
    const schema = clusterSchema();
    const a = await startMember(schema, 'a', { leaseTtlMs: TTL, stallBoundMs: 3 * TTL });
    const b = await startMember(schema, 'b', { leaseTtlMs: TTL });
    expect((await a.request('POST', '/api/sessions', { name: 's1' })).status).toBe(201);
    const engine = a.engines.latest('s1');
    engine.working(ME);
    await a.app.sessions.settled('s1');

    stall(2 * TTL);
    // b's heartbeat first, then a's: nothing moves, nothing stops.
    expect((await b.cluster.ownership.tick()).acquired).toEqual([]);
    expect((await a.cluster.ownership.tick()).lost).toEqual([]);
    expect(engine.state).toBe('started');
    expect(a.cluster.ownership.held().map((lease) => [lease.session, lease.epoch])).toEqual([['s1', 1]]);

    // Hung past the bound and the TTL: the session goes to b, and a stops its engine.
    stall(3 * TTL + 2 * TTL);
    await until('s1 taken by b and stopped on a', () => b.cluster.ownership.held().some((lease) => lease.session === 's1') && engine.state === 'stopped');
    expect(b.cluster.ownership.held().map((lease) => [lease.session, lease.epoch])).toEqual([['s1', 2]]);
  });
});

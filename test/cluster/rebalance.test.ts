import { expect, it } from 'vitest';
import type { SessionInfo } from '../../src/presence/sessions.js';
import { clusterSchema, startMember } from '../support/cluster.js';
import type { ClusterMember } from '../support/cluster.js';
import { ME } from '../support/http.js';
import { poll } from '../support/poll.js';
import { describePostgres } from '../support/postgres.js';

async function owners(member: ClusterMember, names: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const name of names) {
    const lease = await member.storage.leases.get(name);
    if (lease !== null && lease.expiresAt > Date.now()) found.set(name, lease.owner);
  }
  return found;
}

/** Creates each session through the first member (placement picks its server) and logs it in there. */
async function createWorking(members: readonly ClusterMember[], names: readonly string[]): Promise<void> {
  const [first] = members;
  if (first === undefined) throw new Error('no server');
  for (const name of names) {
    const created = await first.request<SessionInfo>('POST', '/api/sessions', { name });
    const owner = members.find((member) => member.id === created.body.worker);
    owner?.engines.latest(name).working(ME);
    await owner?.app.sessions.settled(name);
  }
}

const counts = (found: Map<string, string>, ids: readonly string[]): number[] => ids.map((id) => [...found.values()].filter((owner) => owner === id).length);

describePostgres('several servers: rebalancing when a server joins', () => {
  it('a fourth server takes its share of 30 WORKING sessions, two at a time a server, each moved once', async () => {
    const schema = clusterSchema();
    const members = await Promise.all(['a', 'b', 'c'].map((id) => startMember(schema, id)));
    const [a] = members;
    if (a === undefined) throw new Error('three servers');
    const names = Array.from({ length: 30 }, (_, i) => `r${i}`);
    await createWorking(members, names);
    expect(counts(await owners(a, names), ['a', 'b', 'c'])).toEqual([10, 10, 10]);
    // One session pairing on a: never moved.
    const pairing = names.find((name) => a.engines.engines.some((engine) => engine.session === name));
    if (pairing === undefined) throw new Error('a runs sessions');
    a.engines.latest(pairing).status('SCAN_QR_CODE');
    await a.app.sessions.settled(pairing);

    const d = await startMember(schema, 'd');
    members.push(d);
    const ids = ['a', 'b', 'c', 'd'];
    // ceil(30 / 4) = 8: every server ends at most there, d with the 6 handed back.
    const spread = await poll(
      async () => counts(await owners(a, names), ids),
      (now) => now.every((n) => n <= 8) && now.reduce((x, y) => x + y, 0) === 30,
      { what: 'sessions spread over four servers', timeoutMs: 25_000, everyMs: 200 },
    );
    expect(spread).toEqual([8, 8, 8, 6]);
    expect((await owners(a, [pairing])).get(pairing)).toBe('a');
    // Each moved session started once on d, and stopped on its old server: one reconnect each.
    const onD = [...(await owners(a, names)).entries()].filter(([, owner]) => owner === 'd').map(([name]) => name);
    await poll(() => Promise.resolve(onD.every((name) => d.engines.engines.filter((engine) => engine.session === name).length === 1)), (ok) => ok, { what: 'each moved session started on d', timeoutMs: 10_000, everyMs: 100 });
    for (const name of onD) for (const old of members.slice(0, 3)) expect(old.app.sessions.hasEngine(name), `${name} on ${old.id}`).toBe(false);
  });

  it('WA_PRESENCE_REBALANCE=false: a joining server takes nothing from the others', async () => {
    const schema = clusterSchema();
    const members = await Promise.all(['a', 'b'].map((id) => startMember(schema, id, { rebalance: false })));
    const [a] = members;
    if (a === undefined) throw new Error('two servers');
    const names = Array.from({ length: 6 }, (_, i) => `n${i}`);
    await createWorking(members, names);
    await startMember(schema, 'c', { rebalance: false });
    await new Promise((resolve) => setTimeout(resolve, 7000));
    expect(counts(await owners(a, names), ['a', 'b', 'c'])).toEqual([3, 3, 0]);
  });
});

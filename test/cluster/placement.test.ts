import { describe, expect, it } from 'vitest';
import { leastLoaded, loadsOf } from '../../src/cluster/placement.js';
import type { SessionInfo } from '../../src/presence/sessions.js';
import { clusterSchema, startMember } from '../support/cluster.js';
import { describePostgres } from '../support/postgres.js';

const server = (id: string, sessions: number) => ({ id, url: `http://${id}`, sessions });

describe('placement: the least-loaded live server with room', () => {
  it.each([
    ['the fewest sessions wins', [server('a', 3), server('b', 1), server('c', 2)], 'a', 'b'],
    ['a tie goes to the server asked (no hop)', [server('a', 1), server('b', 1), server('c', 1)], 'c', 'c'],
    ['a tie among others goes to the lowest id, the same on every server', [server('a', 2), server('c', 1), server('b', 1)], 'a', 'b'],
    ['a full server is skipped', [server('a', 10), server('b', 10), server('c', 9)], 'a', 'c'],
  ] as const)('%s', (_name, servers, self, expected) => {
    expect(leastLoaded(servers, 10, self)?.id).toBe(expected);
  });

  it('answers null when every server is full, and for no server', () => {
    expect(leastLoaded([server('a', 2), server('b', 2)], 2, 'a')).toBeNull();
    expect(leastLoaded([], 2, 'a')).toBeNull();
  });

  it('counts live leases by owner; an expired one counts for nobody; a server without leases has 0', () => {
    const servers = [{ id: 'a', url: 'http://a' }, { id: 'b', url: 'http://b' }, { id: 'c', url: 'http://c' }];
    const leases = [
      { session: 's1', owner: 'a', epoch: 1, expiresAt: 2000 },
      { session: 's2', owner: 'a', epoch: 1, expiresAt: 2000 },
      { session: 's3', owner: 'b', epoch: 1, expiresAt: 999 },
      { session: 's4', owner: 'gone', epoch: 1, expiresAt: 2000 },
    ];
    expect(loadsOf(servers, leases, 1000)).toEqual([server('a', 2), server('b', 0), server('c', 0)]);
  });
});

describePostgres('several servers: sessions created through one server spread over all', () => {
  it('30 sessions created through one of three servers run 10/10/10, each answer naming its worker', async () => {
    const schema = clusterSchema();
    const members = await Promise.all(['a', 'b', 'c'].map((id) => startMember(schema, id)));
    const [a] = members;
    if (a === undefined) throw new Error('three servers');
    const workers: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const created = await a.request<SessionInfo>('POST', '/api/sessions', { name: `p${i}` });
      expect(created.status).toBe(201);
      workers.push(created.body.worker ?? '');
    }
    const count = (id: string): number => workers.filter((worker) => worker === id).length;
    expect([count('a'), count('b'), count('c')]).toEqual([10, 10, 10]);
    // Each runs where the answer said: that server holds the lease and has the engine.
    for (const [i, worker] of workers.entries()) {
      expect((await a.storage.leases.get(`p${i}`))?.owner).toBe(worker);
      const owner = members.find((member) => member.id === worker);
      expect(owner?.engines.engines.some((engine) => engine.session === `p${i}`)).toBe(true);
    }
    // A create with start: false is not placed (nothing runs): it stays a stopped session.
    expect((await a.request<SessionInfo>('POST', '/api/sessions', { name: 'idle', start: false })).body).toMatchObject({ status: 'STOPPED' });
    // A start of a stopped session is placed too: all three hold 10, so the tie goes to the server asked.
    const started = await members[2]?.request<SessionInfo>('POST', '/api/sessions/idle/start');
    expect(started?.body).toMatchObject({ worker: 'c' });
  });
});

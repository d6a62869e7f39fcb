import { describe, expect, it } from 'vitest';
import { singleServerOwnership } from '../../src/sessions/ownership.js';
import { httpHarness } from '../support/http.js';

describe('GET /api/sessions/{session} says which server runs the session', () => {
  it('reports this server as worker while its engine runs here, with several servers', async () => {
    const claimed: string[] = [];
    const app = await httpHarness(
      { WA_PRESENCE_SERVER_ID: 'server-a' },
      {
        // A double of the cluster's ownership: server-a holds every lease, shares no status.
        ownership: {
          ...singleServerOwnership,
          serverId: 'server-a',
          claim: (session) => {
            claimed.push(session);
            return Promise.resolve({ owner: 'server-a', epoch: 3 });
          },
        },
      },
    );
    await app.working('default');
    // Claimed before it is marked running, and again (the held lease) right before the engine starts.
    expect(new Set(claimed)).toEqual(new Set(['default']));
    expect((await app.request('GET', '/api/sessions/default')).json()).toMatchObject({ status: 'WORKING', worker: 'server-a' });
    const stopped = await app.request('POST', '/api/sessions/default/stop');
    expect(stopped.json()).not.toHaveProperty('worker');
  });

  it('has no worker field on one server (unchanged JSON)', async () => {
    const app = await httpHarness({ WA_PRESENCE_SERVER_ID: 'server-a' });
    await app.working('default');
    expect((await app.request('GET', '/api/sessions/default')).json()).not.toHaveProperty('worker');
  });
});

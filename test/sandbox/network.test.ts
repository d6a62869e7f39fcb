import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Sandbox } from '../../src/sandbox/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { connectClient } from '../support/baileys-client.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false });
});
afterAll(async () => {
  await sandbox.close();
});

const noConnections = () => sandbox.network.until((accounts) => accounts.every((a) => a.connections.length === 0), 'every connection closed');

describe('stats', () => {
  it('counts pairings, logins, closes of logged-in connections, and connections the sandbox refused', async () => {
    expect(sandbox.network.stats()).toEqual({ logins: 0, closes: 0, pairings: 0, failures: 0 });

    // Pairing: the pairing connection ends with 515 without logging in; the restarted one logs in.
    const paired = await connectClient(sandbox, { name: 'Stats' });
    expect(sandbox.network.stats()).toEqual({ logins: 1, closes: 0, pairings: 1, failures: 0 });

    paired.close();
    await noConnections();
    expect(sandbox.network.stats()).toEqual({ logins: 1, closes: 1, pairings: 1, failures: 0 });

    // A known device coming back is a login, not a pairing.
    const again = await connectClient(sandbox, { auth: paired.auth, scan: 'none' });
    expect(sandbox.network.stats()).toEqual({ logins: 2, closes: 1, pairings: 1, failures: 0 });
    again.close();
    await noConnections();

    // Garbage instead of the WA intro: the sandbox closes that connection itself.
    const ws = new WebSocket(sandbox.url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await closed;
    expect(sandbox.network.stats()).toEqual({ logins: 2, closes: 2, pairings: 1, failures: 1 });
  });

  it('returns a snapshot that later changes do not alter', async () => {
    const before = sandbox.network.stats();
    const client = await connectClient(sandbox, { name: 'Snapshot' });
    client.close();
    await noConnections();
    expect(sandbox.network.stats().logins).toBe(before.logins + 1);
    expect(before.logins).toBe(2);
  });
});

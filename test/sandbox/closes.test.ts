import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisconnectReason } from 'baileys';
import type { WASocket } from 'baileys';
import type { AccountInfo, Sandbox } from '../../src/sandbox/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { connectClient } from '../support/baileys-client.js';
import type { SandboxClient } from '../support/baileys-client.js';

// The closes that need a person (replaced, removed from the phone, banned), each produced by the
// sandbox and seen by an unmodified Baileys client as the DisconnectReason real WhatsApp gives.

let sandbox: Sandbox;
const clients: SandboxClient[] = [];
const CONTACT = '4915550007778';
beforeAll(async () => {
  sandbox = await startSandbox();
  await sandbox.network.createContact({ phone: CONTACT });
});
afterAll(async () => {
  for (const client of clients) client.close();
  await sandbox.close();
});

async function connect(options: Parameters<typeof connectClient>[1] = {}): Promise<SandboxClient> {
  const client = await connectClient(sandbox, options);
  clients.push(client);
  return client;
}

/** The DisconnectReason of the socket's close, however it ends. */
function closeStatus(sock: WASocket, timeoutMs = 5_000): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket did not close within ${timeoutMs} ms`)), timeoutMs);
    sock.ev.on('connection.update', (update) => {
      if (update.connection !== 'close') return;
      clearTimeout(timer);
      resolve((update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode);
    });
  });
}

async function account(phone: string): Promise<AccountInfo | undefined> {
  return (await sandbox.network.accounts()).find((a) => a.phone === phone);
}

async function admin(method: 'GET' | 'POST', path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${sandbox.adminUrl}/api/sandbox${path}`, { method });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('a second login of the same device', () => {
  it('replaces the first connection: the old one ends with 440 (connectionReplaced), the new one stays open', async () => {
    const first = await connect({ name: 'Replaced' });
    const closed = closeStatus(first.sock);
    const second = await connect({ auth: first.auth, scan: 'none' });
    expect(await closed).toBe(DisconnectReason.connectionReplaced);
    await sandbox.network.until((accounts) => accounts.find((a) => a.phone === first.phone)?.connections.length === 1, 'one connection is left');
    expect(second.sock.user?.id).toBe(first.auth.creds.me?.id);
    // Another device of the same account is not a duplicate and stays connected.
    const other = await connect({ phone: first.phone });
    await sandbox.network.until((accounts) => accounts.find((a) => a.phone === first.phone)?.connections.length === 2, 'both devices are connected');
    expect((await account(first.phone))?.connections.map((c) => c.device).sort()).toEqual([1, 2]);
    other.close();
  });
});

describe('removing a device from the phone', () => {
  it('ends its stream with 401 (loggedOut), forgets it, and refuses its credentials from then on', async () => {
    const client = await connect({ name: 'Removed' });
    const closed = closeStatus(client.sock);
    expect(await admin('POST', `/accounts/${client.phone}/devices/1/remove`)).toEqual({ status: 200, body: { phone: client.phone, device: 1, closed: 1 } });
    expect(await closed).toBe(DisconnectReason.loggedOut);
    expect((await account(client.phone))?.devices).toEqual([]);
    // The sandbox adopts devices it does not know, but never one that was removed.
    await expect(connectClient(sandbox, { auth: client.auth, scan: 'none' })).rejects.toThrow(/status 401/);
    // The account can link a new device.
    const relinked = await connect({ phone: client.phone });
    expect(relinked.auth.creds.me?.id).toBe(`${client.phone}:2@s.whatsapp.net`);
  });

  it('says what to fix when the account, the device or the input is wrong', async () => {
    const client = await connect({ name: 'Validation' });
    expect(await admin('POST', `/accounts/${client.phone}/devices/7/remove`)).toMatchObject({ status: 404, body: { message: `account ${client.phone} has no device 7; its devices: 1` } });
    expect(await admin('POST', '/accounts/4915550007777/devices/1/remove')).toMatchObject({ status: 404, body: { message: expect.stringContaining('no account with phone 4915550007777') as unknown } });
    const zero = await admin('POST', `/accounts/${client.phone}/devices/0/remove`);
    expect(zero.status).toBe(400);
    expect(zero.body.message).toContain('device must be a linked device id, a whole number from 1 to 999');
    expect((await admin('POST', `/accounts/${client.phone}/devices/one/remove`)).status).toBe(400);
    expect((await admin('POST', '/accounts/12/devices/1/remove')).body.message).toContain('phone must be a phone number');
    expect(await admin('POST', `/accounts/${CONTACT}/devices/1/remove`)).toMatchObject({ status: 409, body: { message: expect.stringContaining('simulated contact') as unknown } });
    expect((await account(client.phone))?.connections).toHaveLength(1);
  });

  it("Baileys' own logout() unlinks the device too (remove-companion-device)", async () => {
    const client = await connect({ name: 'Self' });
    const closed = closeStatus(client.sock);
    await client.sock.logout();
    expect(await closed).toBe(DisconnectReason.loggedOut);
    await sandbox.network.until((accounts) => accounts.find((a) => a.phone === client.phone)?.devices.length === 0, 'the device is unlinked');
    await expect(connectClient(sandbox, { auth: client.auth, scan: 'none' })).rejects.toThrow(/status 401/);
  });
});

describe('banning an account', () => {
  it('ends its live streams with 403 (forbidden) and refuses every login with 403 until it is unbanned', async () => {
    const client = await connect({ name: 'Banned' });
    const closed = closeStatus(client.sock);
    expect(await sandbox.network.ban(client.phone)).toEqual({ phone: client.phone, banned: true, closed: 1 });
    expect(await closed).toBe(DisconnectReason.forbidden);
    expect(await account(client.phone)).toMatchObject({ banned: true, connections: [], devices: [{ id: 1 }] });
    await expect(connectClient(sandbox, { auth: client.auth, scan: 'none' })).rejects.toThrow(/status 403/);
    // Linking a new device to a banned account is refused as well.
    await expect(connectClient(sandbox, { phone: client.phone })).rejects.toThrow(/banned/);
    expect(await admin('POST', `/accounts/${client.phone}/unban`)).toEqual({ status: 200, body: { phone: client.phone, banned: false } });
    const back = await connect({ auth: client.auth, scan: 'none' });
    expect(back.phone).toBe(client.phone);
  });

  it('through the admin API, with the same checks as the other account routes', async () => {
    const client = await connect({ name: 'Banned by HTTP' });
    const closed = closeStatus(client.sock);
    expect(await admin('POST', `/accounts/${client.phone}/ban`)).toEqual({ status: 200, body: { phone: client.phone, banned: true, closed: 1 } });
    expect(await closed).toBe(DisconnectReason.forbidden);
    expect(await admin('POST', `/accounts/${client.phone}/ban`)).toEqual({ status: 200, body: { phone: client.phone, banned: true, closed: 0 } });
    expect((await admin('POST', '/accounts/4915550007779/ban')).status).toBe(404);
    expect((await admin('POST', '/accounts/4915550007779/unban')).status).toBe(404);
    expect((await admin('POST', `/accounts/${CONTACT}/ban`)).status).toBe(409);
    expect((await admin('POST', '/accounts/+49/ban')).status).toBe(400);
    expect((await admin('GET', '/info')).body.routes).toEqual(expect.arrayContaining([
      'POST /api/sandbox/accounts/{phone}/devices/{device}/remove',
      'POST /api/sandbox/accounts/{phone}/ban',
      'POST /api/sandbox/accounts/{phone}/unban',
    ]));
  });
});

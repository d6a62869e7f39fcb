import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initAuthCreds } from 'baileys';
import type { Sandbox } from '../../src/sandbox/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { connectClient, memoryAuthState } from '../support/baileys-client.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox.close();
});

describe('sandbox login and pairing with real Baileys clients', () => {
  it('pairs a fresh device by QR (scanned in-process), restarts after 515 and opens', async () => {
    const qrs: string[] = [];
    const client = await connectClient(sandbox, { name: 'Alice', onQr: (qr) => qrs.push(qr) });
    try {
      expect(qrs[0]).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#2@/);
      expect(client.auth.creds.me?.id).toMatch(new RegExp(`^${client.phone}:1@s\\.whatsapp\\.net$`));
      expect(client.auth.creds.me?.name).toBe('Alice');
      const account = (await sandbox.network.accounts()).find((a) => a.phone === client.phone);
      expect(account?.devices).toEqual([{ id: 1, jid: `${client.phone}:1@s.whatsapp.net`, preKeys: 812 }]);
      expect(account?.connections).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('logs a known device in again with its credentials, without a new pre-key upload', async () => {
    const first = await connectClient(sandbox, { name: 'Bob' });
    first.close();
    const again = await connectClient(sandbox, { auth: first.auth, scan: 'none' });
    try {
      expect(again.phone).toBe(first.phone);
      const account = (await sandbox.network.accounts()).find((a) => a.phone === first.phone);
      expect(account?.devices[0]?.preKeys).toBe(812);
    } finally {
      again.close();
    }
  });

  it('refuses a known device id whose noise key changed (logged out)', async () => {
    const paired = await connectClient(sandbox, { name: 'Carol' });
    paired.close();
    const impostor = memoryAuthState();
    impostor.creds = { ...initAuthCreds(), me: { id: `${paired.phone}:1@s.whatsapp.net`, name: 'Carol' } };
    await expect(connectClient(sandbox, { auth: impostor, scan: 'none' })).rejects.toThrow(/status 401/);
  });

  it('adopts a device it has never seen (the sandbox restarted)', async () => {
    const other = await startSandbox();
    try {
      const paired = await connectClient(other, { name: 'Dave', phone: '4915550000099' });
      paired.close();
      const adopted = await connectClient(sandbox, { auth: paired.auth, scan: 'none' });
      adopted.close();
      const account = (await sandbox.network.accounts()).find((a) => a.phone === paired.phone);
      expect(account?.kind).toBe('user');
    } finally {
      await other.close();
    }
  });
});

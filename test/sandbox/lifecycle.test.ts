import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/sandbox/index.js';
import { SandboxNetwork, startSandbox } from '../../src/sandbox/index.js';
import { scanSandboxQr } from '../../src/sandbox/client.js';
import type { SandboxClient } from '../support/baileys-client.js';
import { connectClient, recordPresence } from '../support/baileys-client.js';

const TTL_MS = 300;
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false, chatStateTtlMs: TTL_MS });
});
afterAll(async () => {
  await sandbox.close();
});

async function availableInSandbox(client: SandboxClient): Promise<void> {
  await sandbox.network.until((accounts) => SandboxNetwork.connected(accounts, client.phone, true), `${client.phone} is available`);
}

describe('QR pairing through the admin API (auto-pairing off)', () => {
  it('shows a QR, pairs when POST /api/sandbox/scan gets it, to the number asked for, and opens', async () => {
    const info = (await (await fetch(`${sandbox.adminUrl}/api/sandbox/info`)).json()) as { autoPair: boolean };
    expect(info.autoPair).toBe(false);
    const scans: Promise<unknown>[] = [];
    const client = await connectClient(sandbox, {
      scan: (qr) => {
        const scanned = scanSandboxQr(sandbox.adminUrl, qr, { phone: '4917000000001', name: 'Erin' });
        scans.push(scanned);
        return scanned;
      },
    });
    try {
      expect(client.phone).toBe('4917000000001');
      expect(await scans[0]).toEqual({ phone: '4917000000001', jid: '4917000000001:1@s.whatsapp.net', device: 1 });
      expect(client.auth.creds.me?.name).toBe('Erin');
      // The QR's ref is spent: scanning it again finds no waiting device.
      const again = await fetch(`${sandbox.adminUrl}/api/sandbox/scan`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ qr: (client.auth.creds.noiseKey && `2@gone,${Buffer.from(client.auth.creds.noiseKey.public).toString('base64')},${Buffer.from(client.auth.creds.signedIdentityKey.public).toString('base64')},${client.auth.creds.advSecretKey},WA`) }),
      });
      expect(again.status).toBe(404);
    } finally {
      client.close();
    }
  });
});

describe('chat-state expiry', () => {
  it('turns an unrefreshed composing into paused after the TTL, and a refresh restarts the clock', async () => {
    const [a, b] = await Promise.all([
      connectClient(sandbox, { scan: (qr) => sandbox.network.scan({ qr, name: 'A' }) }),
      connectClient(sandbox, { scan: (qr) => sandbox.network.scan({ qr, name: 'B' }) }),
    ]);
    try {
      const bSees = recordPresence(b);
      await availableInSandbox(b);
      const composing = bSees.next((s) => s.chat === a.jid && s.presence === 'composing');
      await a.sock.sendPresenceUpdate('composing', b.jid);
      const first = await composing;
      // Refresh halfway: the paused must come a full TTL after the refresh, not after the first.
      await new Promise((resolve) => setTimeout(resolve, TTL_MS / 2));
      const refreshed = bSees.next((s) => s.chat === a.jid && s.presence === 'composing' && s.at > first.at);
      // The sandbox sees the refresh after this instant, so its paused cannot reach b before this + TTL
      // (timestamps taken where the test stands, not where a loaded machine delivers them).
      const refreshSentAt = Date.now();
      await a.sock.sendPresenceUpdate('composing', b.jid);
      await refreshed;
      const paused = await bSees.next((s) => s.chat === a.jid && s.presence === 'available', { timeoutMs: TTL_MS * 20 });
      expect(paused.at - refreshSentAt).toBeGreaterThanOrEqual(TTL_MS - 5);
      expect(bSees.seen.filter((s) => s.presence === 'available' && s.chat === a.jid)).toHaveLength(1);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('a client that drops', () => {
  it('goes unavailable for its subscribers at once, and reconnects with the same credentials', async () => {
    const [watcher, flaky] = await Promise.all([
      connectClient(sandbox, { scan: (qr) => sandbox.network.scan({ qr, name: 'Watcher' }) }),
      connectClient(sandbox, { scan: (qr) => sandbox.network.scan({ qr, name: 'Flaky' }) }),
    ]);
    try {
      const sees = recordPresence(watcher);
      await availableInSandbox(watcher);
      await availableInSandbox(flaky);
      const current = sees.next((s) => s.chat === flaky.jid && s.presence === 'available');
      await watcher.sock.presenceSubscribe(flaky.jid);
      await current;

      const closed = new Promise<number | undefined>((resolve) => {
        flaky.sock.ev.on('connection.update', (update) => {
          if (update.connection === 'close') resolve((update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode);
        });
      });
      const offline = sees.next((s) => s.chat === flaky.jid && s.presence === 'unavailable');
      expect(await sandbox.network.drop(flaky.phone)).toEqual({ dropped: 1 });
      expect((await offline).lastSeen).toEqual(expect.any(Number));
      expect(await closed).toBe(428); // connectionClosed: an engine reconnects

      const back = sees.next((s) => s.chat === flaky.jid && s.presence === 'available');
      const again = await connectClient(sandbox, { auth: flaky.auth, scan: 'none' });
      await back;
      again.close();
    } finally {
      watcher.close();
      flaky.close();
    }
  });
});

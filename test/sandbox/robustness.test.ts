import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Curve, NOISE_WA_HEADER, proto } from 'baileys';
import type { Sandbox } from '../../src/sandbox/index.js';
import { SandboxNetwork, startSandbox } from '../../src/sandbox/index.js';
import type { SandboxClient } from '../support/baileys-client.js';
import { connectClient, recordPresence } from '../support/baileys-client.js';

// Bad clients (raw sockets) must cost only their own connection: two real clients keep talking.
let sandbox: Sandbox;
let alice: SandboxClient;
let bob: SandboxClient;
const warnings: { reason?: string; msg?: string }[] = [];

beforeAll(async () => {
  const { pino } = await import('pino');
  const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as { reason?: string }) });
  sandbox = await startSandbox({ maxFrameBytes: 64 * 1024, logger });
  [alice, bob] = await Promise.all([connectClient(sandbox, { name: 'Alice' }), connectClient(sandbox, { name: 'Bob' })]);
});
afterAll(async () => {
  alice.close();
  bob.close();
  await sandbox.close();
});

function rawSocket(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(sandbox.url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(3 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out.set(payload, 3);
  return out;
}

async function stillTalking(): Promise<void> {
  const sees = recordPresence(bob);
  await sandbox.network.until((accounts) => SandboxNetwork.connected(accounts, bob.phone, true), 'bob is available');
  const typing = sees.next((s) => s.chat === alice.jid && s.presence === 'composing');
  await alice.sock.sendPresenceUpdate('composing', bob.jid);
  await typing;
  const paused = sees.next((s) => s.chat === alice.jid && s.presence === 'available');
  await alice.sock.sendPresenceUpdate('paused', bob.jid);
  await paused;
}

describe('malformed, oversized and out-of-order input', () => {
  it('closes a socket that sends garbage instead of the WA intro, with the reason logged', async () => {
    const ws = await rawSocket();
    const closed = closeOf(ws);
    ws.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect((await closed).reason).toMatch(/unsupported intro 47455420/);
    expect(warnings.some((w) => w.msg === 'closing connection' && w.reason?.includes('unsupported intro') === true)).toBe(true);
    await stillTalking();
  });

  it('closes a socket that announces an oversized frame', async () => {
    const ws = await rawSocket();
    const closed = closeOf(ws);
    ws.send(Buffer.concat([NOISE_WA_HEADER, Buffer.from([0xff, 0xff, 0xff])]));
    expect((await closed).reason).toMatch(/exceeds the limit/);
    await stillTalking();
  });

  it('closes a socket whose handshake frames come out of order or do not decode', async () => {
    const ws = await rawSocket();
    const closed = closeOf(ws);
    ws.send(Buffer.concat([NOISE_WA_HEADER, frame(proto.HandshakeMessage.encode({ clientFinish: { static: Buffer.alloc(48), payload: Buffer.alloc(20) } }).finish())]));
    expect((await closed).reason).toMatch(/clientHello without/);

    const junk = await rawSocket();
    const junkClosed = closeOf(junk);
    junk.send(Buffer.concat([NOISE_WA_HEADER, frame(Buffer.from([0xff, 0xfe, 0xfd, 0xfc]))]));
    expect((await junkClosed).reason).toMatch(/not a HandshakeMessage/);

    // A proper hello, then a "transport" frame instead of clientFinish.
    const early = await rawSocket();
    const earlyClosed = closeOf(early);
    early.send(Buffer.concat([NOISE_WA_HEADER, frame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: Curve.generateKeyPair().public } }).finish())]));
    early.send(frame(Buffer.from('not a clientFinish at all')));
    expect((await earlyClosed).reason).toMatch(/bad frame|clientFinish/);
    await stillTalking();
  });

  it('keeps serving others while a handshake is left half finished, and times it out', async () => {
    const other = await startSandbox({ handshakeTimeoutMs: 200 });
    try {
      const ws = new WebSocket(other.url);
      await new Promise((resolve) => ws.once('open', resolve));
      const closed = closeOf(ws);
      ws.send(Buffer.concat([NOISE_WA_HEADER, frame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: Curve.generateKeyPair().public } }).finish())]));
      expect((await closed).reason).toMatch(/handshake not finished/);
    } finally {
      await other.close();
    }
    // The half-open one here (default timeout) stays open while the clients keep working.
    const hanging = await rawSocket();
    hanging.send(Buffer.concat([NOISE_WA_HEADER, frame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: Curve.generateKeyPair().public } }).finish())]));
    await stillTalking();
    expect(hanging.readyState).toBe(WebSocket.OPEN);
    hanging.terminate();
  });

  it('closes a logged-in client whose encrypted frame holds no valid node, and only that one', async () => {
    const carol = await connectClient(sandbox, { name: 'Carol' });
    const closed = new Promise<void>((resolve) => {
      carol.sock.ev.on('connection.update', (update) => {
        if (update.connection === 'close') resolve();
      });
    });
    await carol.sock.sendRawMessage(Buffer.from([0, 248, 200, 7, 7, 7]));
    await closed;
    expect(warnings.some((w) => w.reason?.startsWith('bad frame in stage open') === true)).toBe(true);
    await stillTalking();
  });

  it('refuses WebSocket upgrades on other paths', async () => {
    const ws = new WebSocket(sandbox.url.replace('/ws', '/other'));
    await expect(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    })).rejects.toThrow();
  });
});

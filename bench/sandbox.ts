/**
 * Sandbox benchmark: `npx tsx bench/sandbox.ts [N]` (default 100).
 * Connects N real Baileys clients to an in-process sandbox and prints:
 * - time to pair them all (first login: each client generates and uploads 812 pre-keys),
 * - time until all N are open again after a restart (known devices: the usual case),
 * - events per second: one composing in a group fanned out to N-1 receivers, and one account's
 *   available/unavailable fanned out to N-1 subscribers, repeated,
 * - RSS per connection (clients and server share this process, so it counts both sides), and the
 *   server's own cost per connection measured with bare protocol clients (handshake + login only).
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { Curve, NOISE_WA_HEADER, makeNoiseHandler, proto } from 'baileys';
import { startSandbox, trustSandboxRoot } from '../src/sandbox/index.js';
import type { SandboxClient } from '../test/support/baileys-client.js';
import { connectClient } from '../test/support/baileys-client.js';

const N = Number(process.argv[2] ?? 100);
if (!Number.isInteger(N) || N < 2) {
  process.stderr.write('usage: npx tsx bench/sandbox.ts [N ≥ 2]\n');
  process.exit(2);
}
const ROUNDS = 20;
const PAIR_CONCURRENCY = 4;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function inBatches<T>(count: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += size) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - start) }, (_, k) => make(start + k)))));
  }
  return out;
}

// A collectable heap makes the memory figures mean something (no need to pass --expose-gc).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/**
 * A bare protocol client: Noise handshake and login, nothing else. N of them show what the
 * sandbox itself spends per connection, without a Baileys client's state in the same process.
 */
async function rawLogin(url: string, phone: string): Promise<WebSocket> {
  const ephemeral = Curve.generateKeyPair();
  const noiseKey = Curve.generateKeyPair();
  const noise = makeNoiseHandler({ keyPair: ephemeral, NOISE_HEADER: NOISE_WA_HEADER, logger: pino({ level: 'silent' }) });
  const ws = new WebSocket(url);
  const frames: unknown[] = [];
  let wake: (() => void) | null = null;
  ws.on('message', (data: Buffer) => {
    void noise.decodeFrame(data, (frame) => {
      frames.push(frame);
      wake?.();
    });
  });
  const next = async () => {
    while (frames.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return frames.shift();
  };
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish()));
  const hello = (await next()) as Uint8Array;
  const keyEnc = noise.processHandshake(proto.HandshakeMessage.decode(hello), noiseKey);
  const payload = proto.ClientPayload.encode({ username: Number(phone), device: 1, passive: true, pull: true }).finish();
  ws.send(noise.encodeFrame(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: noise.encrypt(payload) } }).finish()));
  await noise.finishInit();
  await next(); // <success>
  return ws;
}

async function main(): Promise<void> {
  const sandbox = await startSandbox({ handshakeTimeoutMs: 120_000 });
  trustSandboxRoot();

  // Server cost per connection, with bare clients.
  collect();
  const bareBefore = process.memoryUsage();
  const bare = await inBatches(N, 20, (i) => rawLogin(sandbox.url, String(4916000000000 + i)));
  await sandbox.network.until((accounts) => accounts.filter((a) => a.connections.length > 0).length === N, 'bare clients logged in', 60_000);
  collect();
  const bareAfter = process.memoryUsage();
  const heapPerConnection = (bareAfter.heapUsed + bareAfter.external - bareBefore.heapUsed - bareBefore.external) / N;
  const rssPerBare = (bareAfter.rss - bareBefore.rss) / N;
  for (const ws of bare) ws.terminate();
  await sandbox.network.until((accounts) => accounts.every((a) => a.connections.length === 0), 'bare clients gone', 60_000);

  collect();
  const rssBefore = process.memoryUsage().rss;

  let t = performance.now();
  const paired = await inBatches(N, PAIR_CONCURRENCY, (i) => connectClient(sandbox, { name: `Bench ${i}`, timeoutMs: 300_000, baileysTimeoutMs: 120_000 }));
  const pairMs = performance.now() - t;
  process.stderr.write(`paired ${N} in ${pairMs.toFixed(0)} ms\n`);
  for (const client of paired) client.close();
  await sandbox.network.until((accounts) => accounts.every((a) => a.connections.length === 0), 'all closed', 60_000);

  t = performance.now();
  const clients: SandboxClient[] = await Promise.all(paired.map((p) => connectClient(sandbox, { auth: p.auth, scan: 'none', timeoutMs: 300_000, baileysTimeoutMs: 120_000 })));
  const openMs = performance.now() - t;
  process.stderr.write(`reopened ${N} in ${openMs.toFixed(0)} ms\n`);
  await sandbox.network.until((accounts) => accounts.every((a) => a.connections.every((c) => c.available)), 'all available', 60_000);
  collect();
  const rssOpen = process.memoryUsage().rss;

  const [sender, ...receivers] = clients;
  if (!sender) throw new Error('no clients');
  const { id: group } = await sandbox.network.createGroup({ subject: 'bench', participants: clients.map((c) => `${c.phone}@c.us`) });

  // Fan-out 1: a chat state in a group of N reaches N-1 receivers.
  let received = 0;
  let expected = 0;
  let done: (() => void) | null = null;
  for (const client of receivers) {
    client.sock.ev.on('presence.update', ({ id }) => {
      if (id !== group && id !== sender.jid) return;
      received++;
      if (received >= expected) done?.();
    });
  }
  const roundTrip = async (send: () => Promise<void>) => {
    expected += receivers.length;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    await send();
    await all;
  };
  t = performance.now();
  for (let r = 0; r < ROUNDS; r++) await roundTrip(() => sender.sock.sendPresenceUpdate(r % 2 === 0 ? 'composing' : 'paused', group));
  const chatStateMs = performance.now() - t;

  // Fan-out 2: presence to N-1 subscribers.
  await roundTripSubscribe();
  async function roundTripSubscribe(): Promise<void> {
    expected += receivers.length;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    await Promise.all(receivers.map((c) => c.sock.presenceSubscribe(sender!.jid)));
    await all;
  }
  t = performance.now();
  for (let r = 0; r < ROUNDS; r++) await roundTrip(() => sender.sock.sendPresenceUpdate(r % 2 === 0 ? 'unavailable' : 'available'));
  const presenceMs = performance.now() - t;

  // Server side alone: a simulated contact typing in the group is one synchronous call that
  // encodes, encrypts and writes the stanza for each of the N receivers.
  const contact = '4915559990000';
  await sandbox.network.createContact({ phone: contact });
  const { id: bigGroup } = await sandbox.network.createGroup({ subject: 'bench 2', participants: [...clients.map((c) => `${c.phone}@c.us`), `${contact}@c.us`] });
  t = performance.now();
  for (let r = 0; r < ROUNDS; r++) await sandbox.network.setContactPresence(contact, { presence: r % 2 === 0 ? 'typing' : 'paused', chatId: bigGroup });
  const serverMs = performance.now() - t;

  const events = ROUNDS * receivers.length;
  const lines = [
    `sandbox bench, N = ${N} Baileys clients in one process (Node ${process.version})`,
    `pair all (QR, 812 pre-keys each, ${PAIR_CONCURRENCY} at a time): ${(pairMs / 1000).toFixed(1)} s (${(pairMs / N).toFixed(0)} ms per client)`,
    `all open again (known devices, all at once):  ${(openMs / 1000).toFixed(2)} s`,
    `group composing → ${receivers.length} receivers, ${ROUNDS} rounds: ${(chatStateMs / ROUNDS).toFixed(1)} ms per fan-out, ${Math.round(events / (chatStateMs / 1000))} events/s`,
    `presence → ${receivers.length} subscribers, ${ROUNDS} rounds:     ${(presenceMs / ROUNDS).toFixed(1)} ms per fan-out, ${Math.round(events / (presenceMs / 1000))} events/s`,
    `server only (contact typing → ${N} sockets): ${((serverMs * 1000) / (ROUNDS * N)).toFixed(1)} µs per stanza, ${Math.round((ROUNDS * N) / (serverMs / 1000))} stanzas/s`,
    `RSS: ${mb(rssBefore)} MB before, ${mb(rssOpen)} MB with ${N} open → ${mb((rssOpen - rssBefore) / N)} MB per connection (Baileys client + server)`,
    `server alone (${N} bare protocol clients): ${(heapPerConnection / 1024).toFixed(1)} KB heap+external, ${(rssPerBare / 1024).toFixed(0)} KB RSS per connection (both ends of the socket in this process)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const client of clients) client.close();
  await sandbox.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);

/**
 * Presence updates per second through the session layer: engine event → merge with the stored
 * presence → SQLite write → publish (a publisher that only timestamps), for one session.
 * Run: npx tsx bench/presence-pipeline.ts [updates=20000] [contacts=1000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EventPublisher } from '../src/events/publisher.js';
import { createSessionManager } from '../src/sessions/manager.js';
import { openStorage } from '../src/storage/index.js';
import { FakeEngineFactory } from '../test/support/fake-engine.js';

const updates = Number(process.argv[2] ?? 20_000);
const contacts = Number(process.argv[3] ?? 1_000);

const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-'));
const storage = await openStorage({ dataDir, databaseUrl: null });
const emittedAt = new Map<string, number>();
const latencies: number[] = [];
let published = 0;
const publisher: EventPublisher = {
  publish(envelope) {
    if (envelope.event === 'presence.update') {
      published += 1;
      const entry = envelope.payload.presences[0];
      const key = `${envelope.payload.id}/${entry?.lastKnownPresence ?? ''}`;
      const start = emittedAt.get(key);
      if (start !== undefined) latencies.push(performance.now() - start);
    }
    return Promise.resolve();
  },
};
const engines = new FakeEngineFactory();
const manager = createSessionManager({ storage, engines, publisher, logger: pino({ level: 'silent' }) });
await manager.create({ name: 'bench' });
const engine = engines.latest('bench');
engine.working();
await manager.settled('bench');

const started = performance.now();
for (let i = 0; i < updates; i += 1) {
  const chatId = `${4915550000000 + (i % contacts)}@c.us`;
  // Alternate so that every update changes something (identical ones are dropped by design).
  const presence = Math.floor(i / contacts) % 2 === 0 ? 'online' : 'offline';
  emittedAt.set(`${chatId}/${presence}`, performance.now());
  engine.presence(chatId, [{ participant: chatId, lastKnownPresence: presence, lastSeen: presence === 'offline' ? 1_700_000_000 + i : null }]);
}
await manager.settled('bench');
const seconds = (performance.now() - started) / 1000;

latencies.sort((a, b) => a - b);
const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(1);
console.log(`updates: ${updates}, contacts: ${contacts}, published: ${published}`);
console.log(`throughput: ${Math.round(updates / seconds)} updates/s (${seconds.toFixed(2)} s)`);
console.log(`emit → published latency (all queued at once): p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
console.log(`rss: ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MB`);

await manager.shutdown();
await storage.close();
await rm(dataDir, { recursive: true, force: true });

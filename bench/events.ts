/**
 * Webhook delivery benchmark: `npx tsx bench/events.ts [--pg postgres://…]`
 *
 * 1. Throughput and latency: events offered at 100, 1,000 and 5,000 per second (100 chats, round
 *    robin) to the real publisher + outbox + worker, delivered to a local receiver that answers 204.
 *    Latency is from the call to `publish` (the accept) to the receiver having the request (its 2xx
 *    follows at once). The receiver runs in a worker thread, so it does not share our event loop.
 * 2. Memory: the receiver is down while 100,000 events queue; RSS and heap are sampled throughout,
 *    then the receiver comes back and the backlog drains.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '../src/config.js';
import { createEvents } from '../src/events/engine.js';
import { makeEnvelope } from '../src/events/envelope.js';
import type { Storage } from '../src/storage/index.js';
import { openStorage } from '../src/storage/index.js';

const now = (): number => performance.timeOrigin + performance.now();

// ---- receiver thread -------------------------------------------------------------------------
// Plain JavaScript evaluated in a worker thread (its own event loop), so it needs no TypeScript loader.
const RECEIVER_SOURCE = `
const { createServer } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const now = () => performance.timeOrigin + performance.now();
const received = new Map();
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const at = now();
    const { id } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (!received.has(id)) received.set(id, at);
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(workerData.port, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message === 'report') parentPort.postMessage({ received: [...received] });
  if (message === 'count') parentPort.postMessage({ count: received.size });
  if (message === 'stop') server.close(() => process.exit(0));
});
`;

interface Receiver {
  url: string;
  report(): Promise<Map<string, number>>;
  /** How many distinct events arrived (cheap: polled while waiting). */
  count(): Promise<number>;
  stop(): Promise<void>;
}

async function startReceiver(port = 0): Promise<Receiver> {
  const worker = new Worker(RECEIVER_SOURCE, { eval: true, workerData: { port } });
  const { port: bound } = await new Promise<{ port: number }>((resolve) => worker.once('message', resolve));
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    report: () =>
      new Promise((resolve) => {
        worker.once('message', (m: { received: [string, number][] }) => resolve(new Map(m.received)));
        worker.postMessage('report');
      }),
    count: () =>
      new Promise((resolve) => {
        worker.once('message', (m: { count: number }) => resolve(m.count));
        worker.postMessage('count');
      }),
    stop: () =>
      new Promise((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      }),
  };
}

// ---- server side -----------------------------------------------------------------------------
const silent = pino({ level: 'silent' });

function config(hookUrl: string): Pick<Config, 'hook' | 'outboxMaxPending' | 'serverId'> {
  return {
    hook: { url: hookUrl, events: ['*'], hmacKey: 'bench-key', retries: { policy: 'constant', delaySeconds: 1, attempts: 1000 }, customHeaders: [] },
    outboxMaxPending: 1_000_000,
    serverId: 'bench',
  };
}

let sequence = 0;
function envelope() {
  sequence += 1;
  const chat = `${1000 + (sequence % 100)}@c.us`;
  return makeEnvelope(
    'presence.update',
    { id: chat, presences: [{ participant: chat, lastKnownPresence: sequence % 2 === 0 ? 'online' : 'offline', lastSeen: 1_700_000_000 + sequence }] },
    { session: 'bench', metadata: null, me: { id: '123@c.us', pushName: 'Bench' }, engine: 'NOWEB' },
  );
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function openBenchStorage(databaseUrl: string | null, dir: string): Promise<Storage> {
  const schema = `bench_events_${process.pid}`;
  return openStorage({ dataDir: dir, databaseUrl, ...(databaseUrl === null ? {} : { schema }) });
}

async function dropSchema(databaseUrl: string | null): Promise<void> {
  if (databaseUrl === null) return;
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS bench_events_${process.pid} CASCADE`);
  await client.end();
}

async function throughput(rate: number, seconds: number, databaseUrl: string | null): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-events-'));
  const receiver = await startReceiver();
  const storage = await openBenchStorage(databaseUrl, dir);
  const events = createEvents({ config: config(receiver.url), outbox: storage.outbox, logger: silent, worker: { concurrency: 64, perWebhookConcurrency: 64 } });
  await events.start();
  const accepted = new Map<string, number>();
  const total = rate * seconds;
  let failures = 0;
  const started = now();
  let offered = 0;
  const publishing: Promise<void>[] = [];
  // Offer events on a 5 ms tick, as many as the rate says are due: a steady load, not one burst.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate));
      while (offered < due) {
        offered += 1;
        const e = envelope();
        const at = now();
        accepted.set(e.id, at);
        publishing.push(events.publisher.publish(e, []).catch(() => void (failures += 1)));
      }
      if (offered >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(publishing);
  const acceptedIn = (now() - started) / 1000;
  const deadline = now() + 180_000;
  while ((await receiver.count()) < total && now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const received = await receiver.report();
  const lastAt = Math.max(...received.values());
  const latencies = [...accepted].flatMap(([id, at]) => {
    const got = received.get(id);
    return got === undefined ? [] : [got - at];
  });
  latencies.sort((a, b) => a - b);
  const seconds2xx = (lastAt - started) / 1000;
  console.log(
    `offered ${String(rate).padStart(5)}/s for ${seconds}s: accepted ${total - failures}/${total} in ${acceptedIn.toFixed(2)}s, ` +
      `delivered ${received.size} → ${(received.size / seconds2xx).toFixed(0)} events/s end to end; ` +
      `latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${percentile(latencies, 100).toFixed(1)} ms`,
  );
  await events.stop();
  await storage.close();
  await receiver.stop();
  await dropSchema(databaseUrl);
  await rm(dir, { recursive: true, force: true });
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

async function backlog(count: number, databaseUrl: string | null): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-events-'));
  // Reserve a port for the receiver, then let it be down while events queue.
  const probe = await startReceiver();
  const port = Number(new URL(probe.url).port);
  await probe.stop();
  const storage = await openBenchStorage(databaseUrl, dir);
  const events = createEvents({ config: config(`http://127.0.0.1:${port}/hook`), outbox: storage.outbox, logger: silent, worker: { concurrency: 64, perWebhookConcurrency: 64 } });
  await events.start();
  global.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const started = now();
  for (let i = 0; i < count; i += 1) {
    await events.publisher.publish(envelope(), []);
    if (i % 1000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const queuedIn = (now() - started) / 1000;
  // Let the worker retry against the dead receiver for a while with the whole backlog pending.
  await new Promise((r) => setTimeout(r, 3000));
  global.gc?.();
  const queued = process.memoryUsage();
  const pending = await storage.outbox.countPending();
  console.log(
    `receiver down, ${count} events queued in ${queuedIn.toFixed(1)}s (${(count / queuedIn).toFixed(0)}/s); pending ${pending}; ` +
      `RSS ${mb(before.rss)} before → ${mb(queued.rss)} after (peak ${mb(peakRss)}); heap used ${mb(before.heapUsed)} → ${mb(queued.heapUsed)}; ` +
      `worker ${JSON.stringify(events.worker.stats())}`,
  );
  const receiver = await startReceiver(port);
  const drainStart = now();
  let received = 0;
  let peakHeap = 0;
  while (received < count && now() - drainStart < 600_000) {
    await new Promise((r) => setTimeout(r, 250));
    received = await receiver.count();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  clearInterval(sampler);
  const drainedIn = (now() - drainStart) / 1000;
  console.log(
    `receiver back: ${received}/${count} delivered in ${drainedIn.toFixed(1)}s (${(received / drainedIn).toFixed(0)}/s); ` +
      `RSS now ${mb(process.memoryUsage().rss)}, peak over the whole run ${mb(peakRss)} (includes the receiver thread); peak heap while draining ${mb(peakHeap)}`,
  );
  await events.stop();
  await storage.close();
  await receiver.stop();
  await dropSchema(databaseUrl);
  await rm(dir, { recursive: true, force: true });
}

{
  const pgIndex = process.argv.indexOf('--pg');
  const databaseUrl = pgIndex === -1 ? null : (process.argv[pgIndex + 1] ?? 'postgres://postgres@127.0.0.1:5432/test');
  const only = process.argv.includes('--memory-only') ? 'memory' : process.argv.includes('--throughput-only') ? 'throughput' : 'all';
  console.log(`storage: ${databaseUrl === null ? 'SQLite (embedded)' : 'PostgreSQL'}; node ${process.version}`);
  const rateIndex = process.argv.indexOf('--rate');
  if (rateIndex !== -1) {
    await throughput(Number(process.argv[rateIndex + 1]), 6, databaseUrl);
  } else if (only !== 'memory') {
    await throughput(100, 10, databaseUrl);
    await throughput(1000, 10, databaseUrl);
    await throughput(5000, 6, databaseUrl);
  }
  if (only !== 'throughput' && rateIndex === -1) await backlog(100_000, databaseUrl);
}

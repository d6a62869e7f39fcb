/**
 * Webhook delivery benchmark, SQLite and PostgreSQL side by side in one run:
 *
 *   npx tsx bench/events.ts [--rates 100,1000] [--seconds 10] [--pg postgres://…] [--no-pg] [--memory]
 *
 * 1. Throughput and latency: for each offered rate (100 and 1,000 events/s by default; 100 chats,
 *    round robin), the real publisher + outbox + worker on SQLite, then on PostgreSQL, delivered to a
 *    local receiver that answers 204. Accept latency is from the call to `publish` to its promise
 *    resolving (the event is durable); delivery latency is from that call to the receiver having the
 *    request (its 2xx follows at once). The receiver runs in a worker thread, so it does not share
 *    our event loop. PostgreSQL is `postgres://postgres@127.0.0.1:5432/test` unless `--pg` says
 *    otherwise; each run works in a fresh schema that is dropped afterwards. `--no-pg`: SQLite only.
 * 2. With `--memory`: the receiver is down while 100,000 events queue; RSS and heap are sampled
 *    throughout, then the receiver comes back and the backlog drains (each backend).
 *
 * The load average is printed before and after: on a shared machine, figures mean little without it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import type { Config } from '../src/config.js';
import { createEvents } from '../src/events/engine.js';
import { makeEnvelope, SERVER_VERSION } from '../src/events/envelope.js';
import { wahaEnvironment } from '../src/events/environment.js';
import type { Storage } from '../src/storage/index.js';
import { openStorage } from '../src/storage/index.js';

// The system-wide monotonic clock, read the same way in the receiver's process (each process's
// `performance.timeOrigin` is its own estimate of the wall clock and they differ by milliseconds).
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

// ---- receiver thread -------------------------------------------------------------------------
// Plain JavaScript evaluated in a worker thread (its own event loop), so it needs no TypeScript loader.
const RECEIVER_SOURCE = `
const { createServer } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const now = () => Number(process.hrtime.bigint()) / 1e6;
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

const BENCH_ENVIRONMENT = wahaEnvironment(SERVER_VERSION, 'bench');
let sequence = 0;
function envelope() {
  sequence += 1;
  const chat = `${1000 + (sequence % 100)}@c.us`;
  return makeEnvelope(
    'presence.update',
    { id: chat, presences: [{ participant: chat, lastKnownPresence: sequence % 2 === 0 ? 'online' : 'offline', lastSeen: 1_700_000_000 + sequence }] },
    { session: 'bench', metadata: null, me: { id: '123@c.us', pushName: 'Bench' }, engine: 'NOWEB' },
    BENCH_ENVIRONMENT,
    Date.now(),
  );
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Backend {
  readonly name: 'SQLite' | 'PostgreSQL';
  /** null: the embedded SQLite database. */
  readonly url: string | null;
}

const SCHEMA = `bench_events_${process.pid}`;

async function dropSchema(backend: Backend): Promise<void> {
  if (backend.url === null) return;
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: backend.url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A fresh database (a temporary directory, or a fresh PostgreSQL schema), removed after `work`. */
async function withStorage<T>(backend: Backend, work: (storage: Storage) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-events-'));
  try {
    await dropSchema(backend);
    const storage = await openStorage({ dataDir: dir, databaseUrl: backend.url, ...(backend.url === null ? {} : { schema: SCHEMA }) });
    try {
      return await work(storage);
    } finally {
      await storage.close();
    }
  } finally {
    await dropSchema(backend);
    await rm(dir, { recursive: true, force: true });
  }
}

interface ThroughputResult {
  readonly backend: Backend['name'];
  readonly rate: number;
  readonly total: number;
  readonly accepted: number;
  /** Events accepted per second, from the first offer to the last publish resolved. */
  readonly acceptRate: number;
  readonly acceptP99: number;
  readonly delivered: number;
  /** Distinct events received per second, from the first offer to the last one received. */
  readonly deliveredRate: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

async function throughput(rate: number, seconds: number, backend: Backend): Promise<ThroughputResult> {
  const receiver = await startReceiver();
  try {
    return await withStorage(backend, async (storage) => {
      const events = createEvents({ config: config(receiver.url), outbox: storage.outbox, logger: silent, worker: { concurrency: 64, perWebhookConcurrency: 64 } });
      await events.start();
      try {
        const offeredAt = new Map<string, number>();
        const acceptLatencies: number[] = [];
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
              offeredAt.set(e.id, at);
              publishing.push(
                events.publisher.publish(e, []).then(
                  () => void acceptLatencies.push(now() - at),
                  () => void (failures += 1),
                ),
              );
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
        while ((await receiver.count()) < total - failures && now() < deadline) await new Promise((r) => setTimeout(r, 100));
        const received = await receiver.report();
        const lastAt = Math.max(...received.values());
        const latencies = [...offeredAt].flatMap(([id, at]) => {
          const got = received.get(id);
          return got === undefined ? [] : [got - at];
        });
        latencies.sort((a, b) => a - b);
        acceptLatencies.sort((a, b) => a - b);
        return {
          backend: backend.name,
          rate,
          total,
          accepted: total - failures,
          acceptRate: (total - failures) / acceptedIn,
          acceptP99: percentile(acceptLatencies, 99),
          delivered: received.size,
          deliveredRate: received.size / ((lastAt - started) / 1000),
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          max: percentile(latencies, 100),
        };
      } finally {
        await events.stop();
      }
    });
  } finally {
    await receiver.stop();
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

async function backlog(count: number, backend: Backend): Promise<void> {
  // Reserve a port for the receiver, then let it be down while events queue.
  const probe = await startReceiver();
  const port = Number(new URL(probe.url).port);
  await probe.stop();
  await withStorage(backend, async (storage) => {
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
      `${backend.name}: receiver down, ${count} events queued one by one in ${queuedIn.toFixed(1)}s (${(count / queuedIn).toFixed(0)}/s); pending ${pending}; ` +
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
      `${backend.name}: receiver back: ${received}/${count} delivered in ${drainedIn.toFixed(1)}s (${(received / drainedIn).toFixed(0)}/s); ` +
        `RSS now ${mb(process.memoryUsage().rss)}, peak over the whole run ${mb(peakRss)} (includes the receiver thread); peak heap while draining ${mb(peakHeap)}`,
    );
    await events.stop();
    await receiver.stop();
  });
}

// ---- command line ------------------------------------------------------------------------------
function option(name: string): string | null {
  const index = process.argv.indexOf(name);
  if (index === -1) return null;
  const value = process.argv[index + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: "${text}" is not a positive whole number`);
  return value;
}

function load(): string {
  return `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`;
}

function ms(value: number): string {
  return Number.isNaN(value) ? '–' : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function row(cells: readonly string[]): string {
  const widths = [8, 10, 11, 14, 12, 9, 9, 9, 13];
  return cells.map((cell, i) => cell.padStart(widths[i] ?? 10)).join(' ');
}

{
  const rates = (option('--rates') ?? '100,1000').split(',').map((text) => positiveInteger('--rates', text.trim()));
  const seconds = positiveInteger('--seconds', option('--seconds') ?? '10');
  const pgUrl = option('--pg') ?? 'postgres://postgres@127.0.0.1:5432/test';
  const backends: Backend[] = [{ name: 'SQLite', url: null }, ...(process.argv.includes('--no-pg') ? [] : [{ name: 'PostgreSQL' as const, url: pgUrl }])];
  const known = new Set(['--rates', '--seconds', '--pg', '--no-pg', '--memory']);
  const unknown = process.argv.slice(2).filter((arg) => arg.startsWith('--') && !known.has(arg));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}; known: ${[...known].join(' ')}`);

  console.log(`node ${process.version}; ${seconds} s per rate; ${backends.map((b) => (b.url === null ? b.name : `${b.name} ${b.url.replace(/\/\/[^@/]*@/, '//')}`)).join(' and ')}`);
  console.log(`start: ${load()}`);
  const results: ThroughputResult[] = [];
  const unavailable = new Set<Backend['name']>();
  for (const rate of rates) {
    for (const backend of backends) {
      if (unavailable.has(backend.name)) continue;
      try {
        const result = await throughput(rate, seconds, backend);
        results.push(result);
        console.log(
          `${backend.name} ${rate}/s: accepted ${result.accepted}/${result.total} at ${result.acceptRate.toFixed(0)}/s (p99 ${ms(result.acceptP99)} ms), ` +
            `delivered ${result.delivered} at ${result.deliveredRate.toFixed(0)}/s, p50 ${ms(result.p50)} ms, p99 ${ms(result.p99)} ms; ${load()}`,
        );
      } catch (error) {
        if (backend.url === null) throw error;
        unavailable.add(backend.name);
        console.log(`${backend.name} unavailable (${error instanceof Error ? error.message : String(error)}); --pg <url> points elsewhere, --no-pg skips it`);
      }
    }
  }
  console.log('');
  console.log(row(['offered', 'backend', 'accepted/s', 'accept p99 ms', 'delivered/s', 'p50 ms', 'p99 ms', 'max ms', 'delivered']));
  for (const r of results) {
    console.log(
      row([`${r.rate}/s`, r.backend, r.acceptRate.toFixed(0), ms(r.acceptP99), r.deliveredRate.toFixed(0), ms(r.p50), ms(r.p99), ms(r.max), `${r.delivered}/${r.total}`]),
    );
  }
  console.log(`end: ${load()}`);
  if (process.argv.includes('--memory')) {
    for (const backend of backends) if (!unavailable.has(backend.name)) await backlog(100_000, backend);
    console.log(`end: ${load()}`);
  }
}

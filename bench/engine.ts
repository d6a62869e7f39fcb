/**
 * NOWEB engine vs bare Baileys, against an in-process sandbox.
 *
 *   npx tsx bench/engine.ts [N …] [--rate M] [--seconds S] [--concurrency K] [--contacts C]
 *
 * For each N (default 10) it runs two phases, each in a fresh child process (so RSS is not polluted by
 * the other phase), each with its own in-process sandbox:
 *   engine:  N sessions of the NOWEB engine (auth serialised into an in-memory AuthStore)
 *   baileys: N bare Baileys clients (in-memory auth) doing the same work
 * and prints, per phase: time from start to all WORKING (fresh pairing, then resume from stored
 * credentials), RSS growth per session, and latency p50/p99 from a simulated contact's presence
 * change to the engine event (`presence.update` for bare Baileys) while M updates/s flow. Session i
 * subscribes to contact i % C, so each update reaches about N/C sessions.
 *
 * RSS growth includes the sandbox's side of each connection (the same in both phases).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { WASocket } from 'baileys';
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import type { App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createNowebEngineFactory } from '../src/engines/noweb/index.js';
import type { Engine, EngineEvent, EngineFactory } from '../src/engines/engine.js';
import { createEvents } from '../src/events/engine.js';
import type { Events } from '../src/events/engine.js';
import type { ChatPresence } from '../src/presence/types.js';
import { openStorage } from '../src/storage/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../src/sandbox/index.js';
import type { Sandbox } from '../src/sandbox/index.js';
import { connectClient } from '../test/support/baileys-client.js';
import type { SandboxClient } from '../test/support/baileys-client.js';
import { FakeAuthStore } from '../test/support/fake-auth-store.js';

type Phase = 'engine' | 'baileys' | 'server';

interface Options {
  readonly rate: number;
  readonly seconds: number;
  readonly concurrency: number;
  readonly contacts: number;
}

interface PhaseResult {
  readonly phase: Phase;
  readonly n: number;
  readonly allWorkingMs: number;
  readonly resumeMs: number;
  /** CPU time (user + system) of this process per session to reach WORKING: unlike wall time, not inflated by other load. */
  readonly cpuStartMsPerSession: number;
  readonly cpuResumeMsPerSession: number;
  /** CPU time per presence update delivered to every subscriber (sandbox fan-out included). */
  readonly cpuPerUpdateMs: number;
  readonly rssPerSessionMb: number;
  readonly heapPerSessionMb: number;
  readonly updates: number;
  readonly deliveries: number;
  readonly expectedDeliveries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Server phase only: contact change → webhook received. */
  readonly webhook?: { readonly deliveries: number; readonly p50Ms: number; readonly p99Ms: number };
}

function argValue(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function inBatches<T>(count: number, concurrency: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await work(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
}

/** BENCH_LOG_LEVEL=info shows the engines' connection logs (close reasons, reconnects) on stderr. */
const benchLogger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }, process.stderr);

/**
 * Retries a command while a session reconnects (a loaded machine drops connections; the engine
 * reconnects by itself, the caller just tries again), as a client of the API would.
 */
async function retrying(command: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await command();
      return;
    } catch (error) {
      if (attempt >= 240) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const contactPhone = (c: number): string => String(4915550500000 + c);

/** A client of either kind, as the measuring loop sees it. */
interface Client {
  readonly subscribe: (chatId: string) => Promise<void>;
  readonly stop: () => Promise<void>;
}

/**
 * When each contact last changed to each state. A delivery of state X is timed against the last
 * change to X: with states alternating, a delivery that arrives after the next change (to the other
 * state) is still timed against its own change instead of being dropped.
 */
type Changes = Map<string, { online?: number; offline?: number }>;

interface Recorder {
  readonly changes: Changes;
  readonly latencies: number[];
  readonly record: (contact: string, state: 'online' | 'offline') => void;
}

/** Latencies against `changes` (shared when two recorders time the same changes). */
function recorder(changes: Changes = new Map()): Recorder {
  const latencies: number[] = [];
  return {
    changes,
    latencies,
    record(contact, state) {
      const at = changes.get(contact)?.[state];
      if (at !== undefined) latencies.push(performance.now() - at);
    },
  };
}

async function startEngines(sandbox: Sandbox, n: number, options: Options, rec: Recorder, stores: FakeAuthStore[]): Promise<Client[]> {
  const factory = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger: benchLogger,
  });
  return inBatches(n, options.concurrency, async (i) => {
    const auth = stores[i] ?? new FakeAuthStore();
    stores[i] = auth;
    let engine: Engine | undefined;
    const working = new Promise<void>((resolve, reject) => {
      const emit = (event: EngineEvent): void => {
        if (event.type === 'qr') {
          sandbox.network.scan({ qr: event.value, name: `Bench ${i}` }).catch(reject);
        } else if (event.type === 'status' && event.status === 'WORKING') {
          resolve();
        } else if (event.type === 'status' && event.status === 'FAILED') {
          reject(new Error(`session ${i} failed: ${event.reason ?? ''}`));
        } else if (event.type === 'presence') {
          for (const p of event.presences) {
            if (p.lastKnownPresence === 'online' || p.lastKnownPresence === 'offline') rec.record(event.chatId, p.lastKnownPresence);
          }
        }
      };
      engine = factory.create({ session: `bench-${i}`, config: {}, auth, logger: benchLogger.child({ session: `bench-${i}` }), emit });
    });
    if (engine === undefined) throw new Error('unreachable');
    const started = engine;
    await started.start();
    await working;
    return { subscribe: (chatId) => retrying(() => started.subscribe(chatId)), stop: () => started.stop() };
  });
}

function bareClient(client: SandboxClient, rec: Recorder): Client {
  const sock: WASocket = client.sock;
  sock.ev.on('presence.update', ({ id, presences }) => {
    const chat = id.replace('@s.whatsapp.net', '@c.us');
    for (const value of Object.values(presences)) {
      if (value.lastKnownPresence === 'available') rec.record(chat, 'online');
      else if (value.lastKnownPresence === 'unavailable') rec.record(chat, 'offline');
    }
  });
  return {
    subscribe: (chatId) => sock.presenceSubscribe(chatId.replace('@c.us', '@s.whatsapp.net')),
    stop: async () => {
      await sock.end(undefined);
    },
  };
}

async function startBare(sandbox: Sandbox, n: number, options: Options, rec: Recorder, previous: SandboxClient[]): Promise<{ clients: Client[]; raw: SandboxClient[] }> {
  const raw = await inBatches(n, options.concurrency, async (i) => {
    const before = previous[i];
    // A bare client has no reconnect logic; retrying a failed connect is the least an app adds (the
    // engine does it through its backoff), so both sides survive a loaded machine alike.
    for (let attempt = 1; ; attempt++) {
      try {
        return await connectClient(sandbox, {
          timeoutMs: 600_000,
          ...(before === undefined ? { name: `Bench ${i}` } : { auth: before.auth, scan: 'none' as const }),
        });
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
  });
  return { clients: raw.map((client) => bareClient(client, rec)), raw };
}


/** A webhook receiver that timestamps every `presence.update` it gets. */
async function startReceiver(rec: Recorder): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event: string; payload: ChatPresence };
      if (body.event === 'presence.update') {
        for (const p of body.payload.presences) {
          if (p.lastKnownPresence === 'online' || p.lastKnownPresence === 'offline') rec.record(body.payload.id, p.lastKnownPresence);
        }
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The whole server (session layer, SQLite, outbox + webhook worker) over the NOWEB engine. The
 * factory is wrapped to scan QR codes in-process and to timestamp engine events.
 */
async function startServers(sandbox: Sandbox, n: number, options: Options, engineRec: Recorder, hookUrl: string, dataDir: string, fresh: boolean): Promise<{ clients: Client[]; close: () => Promise<void> }> {
  const storage = await openStorage({ dataDir, databaseUrl: null });
  const config = loadConfig({ WHATSAPP_API_KEY: 'bench', WA_PRESENCE_SANDBOX: sandbox.url }, []);
  const inner = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger: pino({ level: 'silent' }),
  });
  const working = new Map<string, () => void>();
  const engines: EngineFactory = {
    name: inner.name,
    create: (context) => inner.create({
      ...context,
      emit: (event) => {
        if (event.type === 'qr') void sandbox.network.scan({ qr: event.value, name: context.session }).catch(() => undefined);
        if (event.type === 'presence') {
          for (const p of event.presences) {
            if (p.lastKnownPresence === 'online' || p.lastKnownPresence === 'offline') engineRec.record(event.chatId, p.lastKnownPresence);
          }
        }
        context.emit(event);
        if (event.type === 'status' && event.status === 'WORKING') working.get(context.session)?.();
      },
    }),
  };
  const logger = pino({ level: 'silent' });
  const events: Events = createEvents({ config, outbox: storage.outbox, logger });
  await events.start();
  const app: App = await buildApp({ config, storage, engines, publisher: events.publisher, logger });
  const names = Array.from({ length: n }, (_, i) => `bench-${i}`);
  const ready = names.map((name) => new Promise<void>((resolve) => working.set(name, resolve)));
  if (fresh) {
    await inBatches(n, options.concurrency, async (i) => {
      const name = names[i] ?? '';
      await app.sessions.create({ name, start: true, config: { webhooks: [{ url: hookUrl, events: ['presence.update'] }] } });
      await ready[i];
    });
  } else {
    await app.sessions.resume({ startSessions: [], restartAll: false });
    await Promise.all(ready);
  }
  await Promise.all(names.map((name) => app.sessions.settled(name)));
  const clients = names.map((name): Client => ({
    subscribe: (chatId) => retrying(() => app.sessions.subscribe(name, chatId)),
    stop: () => Promise.resolve(),
  }));
  return {
    clients,
    close: async () => {
      await app.server.close();
      await events.stop();
      await storage.close();
    },
  };
}

async function runPhase(phase: Phase, n: number, options: Options): Promise<PhaseResult> {
  const sandbox = await startSandbox({ autoPair: false, logger: pino({ level: 'silent' }) });
  try {
    const contacts = Math.min(options.contacts, n);
    for (let c = 0; c < contacts; c++) await sandbox.network.createContact({ phone: contactPhone(c), name: `Contact ${c}` });
    const rec = recorder();
    // Webhook latencies are measured against the same presence changes as engine events.
    const hookRec = recorder(rec.changes);
    const stores: FakeAuthStore[] = [];
    let bare: SandboxClient[] = [];
    const receiver = phase === 'server' ? await startReceiver(hookRec) : null;
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-'));
    let closeServer: (() => Promise<void>) | null = null;
    let serverStarts = 0;
    const start = async (): Promise<Client[]> => {
      if (phase === 'engine') return startEngines(sandbox, n, options, rec, stores);
      if (phase === 'server') {
        const started = await startServers(sandbox, n, options, rec, receiver?.url ?? '', dataDir, serverStarts++ === 0);
        closeServer = started.close;
        return started.clients.map((client) => ({
          subscribe: client.subscribe,
          stop: async () => {
            const close = closeServer;
            closeServer = null;
            if (close !== null) await close();
          },
        }));
      }
      const started = await startBare(sandbox, n, options, rec, bare);
      bare = started.raw;
      return started.clients;
    };

    const cpuMs = (since: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1000;
    };
    gc();
    const baseline = process.memoryUsage();
    let t = performance.now();
    let cpu = process.cpuUsage();
    let clients = await start();
    const allWorkingMs = performance.now() - t;
    const cpuStartMs = cpuMs(cpu);
    gc();
    const after = process.memoryUsage();

    // Resume: every client stops and starts again from the credentials it stored.
    await Promise.all(clients.map((client) => client.stop()));
    t = performance.now();
    cpu = process.cpuUsage();
    clients = await start();
    const resumeMs = performance.now() - t;
    const cpuResumeMs = cpuMs(cpu);

    await inBatches(n, options.concurrency, (i) => clients[i]?.subscribe(`${contactPhone(i % contacts)}@c.us`) ?? Promise.resolve());
    // Let the presences that subscribing (and, for the server, renewal) brings in land first.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const subscribersOf = (c: number): number => Math.floor(n / contacts) + (c < n % contacts ? 1 : 0);

    // M updates per second, round robin over contacts, each toggling online/offline.
    const online = new Map<number, boolean>();
    const total = Math.round(options.rate * options.seconds);
    let expectedDeliveries = 0;
    const intervalMs = 1000 / options.rate;
    const began = performance.now();
    cpu = process.cpuUsage();
    for (let k = 0; k < total; k++) {
      const due = began + k * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const c = k % contacts;
      const next = !(online.get(c) ?? false);
      online.set(c, next);
      const contact = `${contactPhone(c)}@c.us`;
      rec.changes.set(contact, { ...rec.changes.get(contact), [next ? 'online' : 'offline']: performance.now() });
      expectedDeliveries += subscribersOf(c);
      await sandbox.network.setContactPresence(contactPhone(c), { presence: next ? 'online' : 'offline' });
    }
    // Let the last deliveries land.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const cpuUpdatesMs = cpuMs(cpu);
    await Promise.all(clients.map((client) => client.stop()));
    await receiver?.close();
    await rm(dataDir, { recursive: true, force: true });

    const sorted = [...rec.latencies].sort((a, b) => a - b);
    const hooks = [...hookRec.latencies].sort((a, b) => a - b);
    return {
      phase,
      n,
      allWorkingMs: Math.round(allWorkingMs),
      resumeMs: Math.round(resumeMs),
      cpuStartMsPerSession: cpuStartMs / n,
      cpuResumeMsPerSession: cpuResumeMs / n,
      cpuPerUpdateMs: cpuUpdatesMs / total,
      rssPerSessionMb: (after.rss - baseline.rss) / n / 2 ** 20,
      heapPerSessionMb: (after.heapUsed - baseline.heapUsed) / n / 2 ** 20,
      updates: total,
      deliveries: sorted.length,
      expectedDeliveries,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      ...(phase === 'server' ? { webhook: { deliveries: hooks.length, p50Ms: percentile(hooks, 50), p99Ms: percentile(hooks, 99) } } : {}),
    };
  } finally {
    await sandbox.close();
  }
}

function runChild(phase: Phase, n: number, args: readonly string[]): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--phase', phase, '--n', String(n), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        reject(new Error(`${phase} phase with N=${n} exited with ${String(code)}: ${out}`));
        return;
      }
      resolve(JSON.parse(line) as PhaseResult);
    });
  });
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const options: Options = {
    rate: argValue(args, '--rate', 50),
    seconds: argValue(args, '--seconds', 5),
    concurrency: argValue(args, '--concurrency', 25),
    contacts: argValue(args, '--contacts', 10),
  };
  const phaseAt = args.indexOf('--phase');
  if (phaseAt >= 0) {
    const phase = args[phaseAt + 1];
    if (phase !== 'engine' && phase !== 'baileys' && phase !== 'server') throw new Error('--phase must be engine, baileys or server');
    const result = await runPhase(phase, argValue(args, '--n', 10), options);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    // Baileys leaves timers behind (keep-alive, caches) even after end(): the phase is over.
    process.exit(0);
  }
  const sizes = args.filter((arg, i) => /^\d+$/.test(arg) && !(args[i - 1] ?? '').startsWith('--')).map(Number);
  const passOn = ['--rate', String(options.rate), '--seconds', String(options.seconds), '--concurrency', String(options.concurrency), '--contacts', String(options.contacts)];
  console.log(`NOWEB engine vs bare Baileys — ${options.rate} updates/s for ${options.seconds} s, ${options.contacts} contacts, start concurrency ${options.concurrency}, Node ${process.version}`);
  console.log('wall times suffer from other load on a shared machine; the CPU columns (this process only) do not');
  console.log('N     phase    all WORKING   resume   RSS/session  heap/session  deliveries      p50 ms   p99 ms   CPU/start  CPU/resume  CPU/update');
  for (const n of sizes.length === 0 ? [10] : sizes) {
    const row = (r: PhaseResult): void => {
      console.log(
        `${String(n).padEnd(6)}${r.phase.padEnd(9)}${`${r.allWorkingMs} ms`.padStart(11)}${`${r.resumeMs} ms`.padStart(10)}${`${fmt(r.rssPerSessionMb)} MB`.padStart(13)}${`${fmt(r.heapPerSessionMb)} MB`.padStart(14)}${`${r.deliveries}/${r.expectedDeliveries}`.padStart(14)}${fmt(r.p50Ms, 3).padStart(10)}${fmt(r.p99Ms, 3).padStart(9)}${`${fmt(r.cpuStartMsPerSession, 0)} ms`.padStart(12)}${`${fmt(r.cpuResumeMsPerSession, 1)} ms`.padStart(12)}${`${fmt(r.cpuPerUpdateMs, 2)} ms`.padStart(12)}`,
      );
    };
    const engine = await runChild('engine', n, passOn);
    row(engine);
    const bare = await runChild('baileys', n, passOn);
    row(bare);
    const full = args.includes('--no-server') ? null : await runChild('server', n, passOn);
    if (full !== null) {
      row(full);
      if (full.webhook !== undefined) {
        console.log(`${String(n).padEnd(6)}server   webhook deliveries ${full.webhook.deliveries}/${full.expectedDeliveries}, contact change → webhook p50 ${fmt(full.webhook.p50Ms, 3)} ms, p99 ${fmt(full.webhook.p99Ms, 3)} ms`);
      }
    }
    console.log(
      `${String(n).padEnd(6)}ratio    ${`${fmt(engine.allWorkingMs / bare.allWorkingMs)}x`.padStart(11)}${`${fmt(engine.resumeMs / bare.resumeMs)}x`.padStart(10)}${`${fmt(engine.rssPerSessionMb / bare.rssPerSessionMb)}x`.padStart(13)}${`${fmt(engine.heapPerSessionMb / bare.heapPerSessionMb)}x`.padStart(14)}${''.padStart(14)}${`${fmt(engine.p50Ms / bare.p50Ms)}x`.padStart(10)}${`${fmt(engine.p99Ms / bare.p99Ms)}x`.padStart(9)}${`${fmt(engine.cpuStartMsPerSession / bare.cpuStartMsPerSession)}x`.padStart(12)}${`${fmt(engine.cpuResumeMsPerSession / bare.cpuResumeMsPerSession)}x`.padStart(12)}${`${fmt(engine.cpuPerUpdateMs / bare.cpuPerUpdateMs)}x`.padStart(12)}`,
    );
  }
}

await main();

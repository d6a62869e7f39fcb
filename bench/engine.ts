/**
 * NOWEB engine vs bare Baileys, against an in-process sandbox.
 *
 *   npx tsx bench/engine.ts [N …] [--phases engine,baileys,server] [--rate M] [--seconds S]
 *                           [--concurrency K] [--contacts C] [--phase-timeout S]
 *
 * For each N (default 10) it runs up to three phases, each in a fresh child process (so RSS is not
 * polluted by the other phase), each with its own in-process sandbox:
 *   engine:  N sessions of the NOWEB engine (auth serialised into an in-memory AuthStore)
 *   baileys: N bare Baileys clients (in-memory auth) doing the same work
 *   server:  the whole server over the NOWEB engine, events delivered to a webhook receiver
 * and prints, per phase: time from start to all WORKING (fresh pairing, then resume from stored
 * credentials), RSS growth per session, and latency p50/p99 from a simulated contact's presence
 * change to the engine event (`presence.update` for bare Baileys) while M updates/s flow. Session i
 * subscribes to contact i % C, so each update reaches about N/C sessions.
 *
 * Every 10 s a phase prints a progress line on stderr (sessions WORKING in the current step, dropped
 * connections, the sandbox's logins and refusals, CPU, event-loop delay), and a phase that is not done
 * within its time limit (`--phase-timeout`, default 120 s + 3 s a session) stops with what it reached.
 *
 * RSS growth includes the sandbox's side of each connection (the same in both phases).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { WASocket } from 'baileys';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createNowebEngineFactory } from '../src/engines/noweb/index.js';
import type { Engine, EngineEvent, EngineFactory } from '../src/engines/engine.js';
import type { ChatPresence } from '../src/presence/types.js';
import type { AuthEntry, AuthStore } from '../src/storage/auth.js';
import { openStorage } from '../src/storage/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../src/sandbox/index.js';
import { createServer as createPresenceServer } from '../src/server.js';
import type { Server } from '../src/server.js';
import type { Sandbox } from '../src/sandbox/index.js';
import { connectClient } from '../test/support/baileys-client.js';
import type { SandboxClient } from '../test/support/baileys-client.js';

type Phase = 'engine' | 'baileys' | 'server';
const PHASES: readonly Phase[] = ['engine', 'baileys', 'server'];

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
  /** Engine and server phases: every connection dropped at once → every session WORKING again. */
  readonly storm?: { readonly ms: number; readonly cpuMsPerSession: number; readonly maxDelayMs: number; readonly extraDrops: number };
}

function argValue(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

/**
 * Sessions started at once. Starting is CPU-bound on the one thread that runs clients and sandbox
 * (812 pre-keys generated per pairing, ~0.1 s in one synchronous stretch), so more at once adds no
 * throughput, only event-loop delay: every session's keep-alive answer waits behind that backlog,
 * and Baileys drops a link whose ping goes unanswered for 5 s past its 30 s interval.
 */
function defaultConcurrency(n: number): number {
  return n <= 100 ? 25 : 8;
}

/** Seconds a phase may take before it is stopped: generous for a loaded machine, but finite. */
function defaultPhaseTimeout(n: number): number {
  return 120 + 3 * n;
}

function parsePhases(args: readonly string[]): Phase[] {
  const at = args.indexOf('--phases');
  if (at < 0) return args.includes('--no-server') ? ['engine', 'baileys'] : [...PHASES];
  const names = (args[at + 1] ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !PHASES.includes(name as Phase));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--phases takes a comma-separated list of ${PHASES.join(', ')}; got "${args[at + 1] ?? ''}"`);
  }
  return PHASES.filter((phase) => names.includes(phase));
}

/**
 * Auth of one session in memory, as plain strings. Unlike the tests' FakeAuthStore it keeps no log
 * of transactions, which would charge the engine side ~0.1 MB a session that no real store holds.
 */
function memoryAuthStore(): AuthStore {
  const data = new Map<string, string>();
  const key = (category: string, id: string): string => `${category}\u0000${id}`;
  return {
    get(category, ids) {
      const result: Record<string, string> = {};
      for (const id of ids) {
        const value = data.get(key(category, id));
        if (value !== undefined) result[id] = value;
      }
      return Promise.resolve(result);
    },
    set(entries: readonly AuthEntry[]) {
      for (const entry of entries) {
        if (entry.value === null) data.delete(key(entry.category, entry.id));
        else data.set(key(entry.category, entry.id), entry.value);
      }
      return Promise.resolve();
    },
    clear() {
      data.clear();
      return Promise.resolve();
    },
  };
}

/** What the current step of a phase has reached; the progress line and the time limit report it. */
interface Tracker {
  step: string;
  /** What the step counts ("WORKING" sessions, "subscribed" sessions, "sent" updates), and how many of how many. */
  unit: string;
  done: number;
  of: number;
  /** Connections of WORKING sessions that dropped (the engine reconnects; a bare client is retried only while starting). */
  drops: number;
  /** Told of every WORKING status of a session (engine and server phases), for the storm step. */
  onWorking: ((session: string) => void) | null;
}

/**
 * Prints a progress line on stderr every 10 s and stops the process when the phase exceeds its
 * limit, with what it reached: a starving run says so instead of hanging.
 */
function watchPhase(phase: Phase, n: number, sandbox: Sandbox, tracker: Tracker, limitS: number): { step(name: string, of: number, unit: string): void; stop(): void } {
  const began = performance.now();
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let stepBegan = performance.now();
  let stepCpu = process.cpuUsage();
  let stepStats = sandbox.network.stats();
  const line = (): string => {
    const stats = sandbox.network.stats();
    const memory = process.memoryUsage();
    const used = process.cpuUsage(stepCpu);
    const cpuS = (used.user + used.system) / 1e6;
    return `[${phase} N=${n} +${((performance.now() - began) / 1000).toFixed(0)} s] ${tracker.step} (${((performance.now() - stepBegan) / 1000).toFixed(0)} s): ${tracker.done}/${tracker.of} ${tracker.unit}, ${tracker.drops} drops; sandbox: ${stats.logins - stepStats.logins} logins, ${stats.closes - stepStats.closes} closes, ${stats.failures - stepStats.failures} refused; CPU ${cpuS.toFixed(1)} s; event-loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms, max ${(delay.max / 1e6).toFixed(0)} ms; RSS ${(memory.rss / 2 ** 20).toFixed(0)} MB, heap ${(memory.heapUsed / 2 ** 20).toFixed(0)} MB`;
  };
  const ticker = setInterval(() => {
    process.stderr.write(`${line()}\n`);
    delay.reset();
  }, 10_000);
  const limit = setTimeout(() => {
    process.stderr.write(`${line()}\n`);
    process.stderr.write(
      `${phase} phase with N=${n} stopped: not done within its ${limitS} s limit (--phase-timeout), in step "${tracker.step}" with ${tracker.done}/${tracker.of} ${tracker.unit} and ${tracker.drops} dropped connections. If the progress lines show drops or refusals, lower --concurrency; if they show steady progress, raise --phase-timeout.\n`,
    );
    process.exit(3);
  }, limitS * 1000);
  return {
    step(name, of, unit) {
      tracker.step = name;
      tracker.done = 0;
      tracker.of = of;
      tracker.unit = unit;
      stepBegan = performance.now();
      stepCpu = process.cpuUsage();
      stepStats = sandbox.network.stats();
    },
    stop() {
      clearInterval(ticker);
      clearTimeout(limit);
      delay.disable();
    },
  };
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

async function startEngines(sandbox: Sandbox, n: number, options: Options, rec: Recorder, stores: AuthStore[], tracker: Tracker): Promise<Client[]> {
  const factory = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger: benchLogger,
  });
  return inBatches(n, options.concurrency, async (i) => {
    const auth = stores[i] ?? memoryAuthStore();
    stores[i] = auth;
    let engine: Engine | undefined;
    let wasWorking = false;
    const working = new Promise<void>((resolve, reject) => {
      const emit = (event: EngineEvent): void => {
        if (event.type === 'qr') {
          sandbox.network.scan({ qr: event.value, name: `Bench ${i}` }).catch(reject);
        } else if (event.type === 'status' && event.status === 'WORKING') {
          tracker.onWorking?.(`bench-${i}`);
          if (!wasWorking) tracker.done++;
          wasWorking = true;
          resolve();
        } else if (event.type === 'status' && event.status === 'STARTING' && wasWorking) {
          // A WORKING session lost its connection (the engine reconnects by itself).
          tracker.drops++;
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

function bareClient(client: SandboxClient, rec: Recorder, tracker: Tracker): Client {
  const sock: WASocket = client.sock;
  let stopping = false;
  sock.ev.on('connection.update', (update) => {
    if (update.connection === 'close' && !stopping) tracker.drops++;
  });
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
      stopping = true;
      await sock.end(undefined);
    },
  };
}

async function startBare(sandbox: Sandbox, n: number, options: Options, rec: Recorder, previous: SandboxClient[], tracker: Tracker): Promise<{ clients: Client[]; raw: SandboxClient[] }> {
  const raw = await inBatches(n, options.concurrency, async (i) => {
    const before = previous[i];
    // A bare client has no reconnect logic; retrying a failed connect is the least an app adds (the
    // engine does it through its backoff), so both sides survive a loaded machine alike.
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await connectClient(sandbox, {
          timeoutMs: 600_000,
          ...(before === undefined ? { name: `Bench ${i}` } : { auth: before.auth, scan: 'none' as const }),
        });
        tracker.done++;
        return client;
      } catch (error) {
        if (attempt >= 5) throw error;
        tracker.drops++;
      }
    }
  });
  return { clients: raw.map((client) => bareClient(client, rec, tracker)), raw };
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
async function startServers(sandbox: Sandbox, n: number, options: Options, engineRec: Recorder, hookUrl: string, dataDir: string, fresh: boolean, tracker: Tracker): Promise<{ clients: Client[]; close: () => Promise<void> }> {
  const storage = await openStorage({ dataDir, databaseUrl: null });
  const config = loadConfig({ WHATSAPP_API_KEY: 'bench', WA_PRESENCE_SANDBOX: sandbox.url }, []);
  const inner = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger: pino({ level: 'silent' }),
  });
  const working = new Map<string, () => void>();
  const wasWorking = new Set<string>();
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
        if (event.type === 'status' && event.status === 'WORKING') {
          tracker.onWorking?.(context.session);
          if (!wasWorking.has(context.session)) tracker.done++;
          wasWorking.add(context.session);
          working.get(context.session)?.();
        }
        if (event.type === 'status' && event.status === 'STARTING' && wasWorking.has(context.session)) tracker.drops++;
      },
    }),
  };
  const logger = pino({ level: 'silent' });
  const app: Server = await createPresenceServer(config, { storage, engines, logger, listen: { host: '127.0.0.1', port: 0 } });
  // Resumes the sessions stored by an earlier phase (none when fresh).
  await app.start();
  const names = Array.from({ length: n }, (_, i) => `bench-${i}`);
  const ready = names.map((name) => new Promise<void>((resolve) => working.set(name, resolve)));
  if (fresh) {
    await inBatches(n, options.concurrency, async (i) => {
      const name = names[i] ?? '';
      await app.sessions.create({ name, start: true, config: { webhooks: [{ url: hookUrl, events: ['presence.update'] }] } });
      await ready[i];
    });
  } else {
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
      await app.close();
      await storage.close();
    },
  };
}

async function runPhase(phase: Phase, n: number, options: Options, limitS: number): Promise<PhaseResult> {
  // The sandbox's own warnings (connections it closes: handshake or pairing timeouts) show with the engines' logs.
  const sandbox = await startSandbox({ autoPair: false, logger: pino({ level: process.env.BENCH_LOG_LEVEL === undefined ? 'silent' : 'warn' }, process.stderr) });
  const tracker: Tracker = { step: 'setup', unit: '', done: 0, of: 0, drops: 0, onWorking: null };
  const watch = watchPhase(phase, n, sandbox, tracker, limitS);
  try {
    const contacts = Math.min(options.contacts, n);
    for (let c = 0; c < contacts; c++) await sandbox.network.createContact({ phone: contactPhone(c), name: `Contact ${c}` });
    const rec = recorder();
    // Webhook latencies are measured against the same presence changes as engine events.
    const hookRec = recorder(rec.changes);
    const stores: AuthStore[] = [];
    let bare: SandboxClient[] = [];
    const receiver = phase === 'server' ? await startReceiver(hookRec) : null;
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-'));
    let closeServer: (() => Promise<void>) | null = null;
    let serverStarts = 0;
    const start = async (): Promise<Client[]> => {
      if (phase === 'engine') return startEngines(sandbox, n, options, rec, stores, tracker);
      if (phase === 'server') {
        const started = await startServers(sandbox, n, options, rec, receiver?.url ?? '', dataDir, serverStarts++ === 0, tracker);
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
      const started = await startBare(sandbox, n, options, rec, bare, tracker);
      bare = started.raw;
      return started.clients;
    };

    const cpuMs = (since: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1000;
    };
    gc();
    const baseline = process.memoryUsage();
    watch.step('pair', n, 'WORKING');
    let t = performance.now();
    let cpu = process.cpuUsage();
    let clients = await start();
    const allWorkingMs = performance.now() - t;
    const cpuStartMs = cpuMs(cpu);
    gc();
    const after = process.memoryUsage();

    // Resume: every client stops and starts again from the credentials it stored.
    watch.step('stop', n, 'stopping');
    await Promise.all(clients.map((client) => client.stop()));
    watch.step('resume', n, 'WORKING');
    t = performance.now();
    cpu = process.cpuUsage();
    clients = await start();
    const resumeMs = performance.now() - t;
    const cpuResumeMs = cpuMs(cpu);

    watch.step('subscribe', n, 'subscribed');
    await inBatches(n, options.concurrency, async (i) => {
      await clients[i]?.subscribe(`${contactPhone(i % contacts)}@c.us`);
      tracker.done++;
    });
    // Let the presences that subscribing (and, for the server, renewal) brings in land first.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const subscribersOf = (c: number): number => Math.floor(n / contacts) + (c < n % contacts ? 1 : 0);

    // M updates per second, round robin over contacts, each toggling online/offline.
    const online = new Map<number, boolean>();
    const total = Math.round(options.rate * options.seconds);
    let expectedDeliveries = 0;
    const intervalMs = 1000 / options.rate;
    watch.step('updates', total, 'updates sent');
    const began = performance.now();
    cpu = process.cpuUsage();
    for (let k = 0; k < total; k++) {
      const due = began + k * intervalMs;
      const wait = due - performance.now();
      // Behind schedule, still yield to I/O: otherwise the loop sends every remaining update in one
      // run of microtasks while no client reads, and the backlog shows up as latency of ours.
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else await new Promise((resolve) => setImmediate(resolve));
      const c = k % contacts;
      const next = !(online.get(c) ?? false);
      online.set(c, next);
      const contact = `${contactPhone(c)}@c.us`;
      rec.changes.set(contact, { ...rec.changes.get(contact), [next ? 'online' : 'offline']: performance.now() });
      expectedDeliveries += subscribersOf(c);
      await sandbox.network.setContactPresence(contactPhone(c), { presence: next ? 'online' : 'offline' });
      tracker.done++;
    }
    // Let the last deliveries land.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    if (phase === 'server') {
      // Webhooks go through the outbox: while a backlog still drains, wait for it (up to a minute)
      // instead of counting only what arrived in the first second.
      watch.step('webhooks', expectedDeliveries, 'webhooks received');
      const drainUntil = performance.now() + 60_000;
      let seen = -1;
      while (hookRec.latencies.length < expectedDeliveries && hookRec.latencies.length > seen && performance.now() < drainUntil) {
        seen = hookRec.latencies.length;
        tracker.done = seen;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
    }
    const cpuUpdatesMs = cpuMs(cpu);
    // Taken now: the presences that renewal brings in after the storm below are no deliveries of the updates.
    const sorted = [...rec.latencies].sort((a, b) => a - b);
    const hooks = [...hookRec.latencies].sort((a, b) => a - b);

    // Reconnect storm: the network drops every session's connection at once (a network blip); the
    // engine reconnects each by itself and renews its subscriptions. Bare Baileys has no reconnect.
    let storm: PhaseResult['storm'];
    if (phase !== 'baileys') {
      watch.step('storm', n, 'WORKING again');
      const again = new Set<string>();
      let allAgain: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        allAgain = resolve;
      });
      tracker.onWorking = (session) => {
        again.add(session);
        tracker.done = again.size;
        if (again.size === n) allAgain();
      };
      const phones = (await sandbox.network.accounts()).filter((account) => account.kind === 'user').map((account) => account.phone);
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const dropsBefore = tracker.drops;
      cpu = process.cpuUsage();
      t = performance.now();
      await Promise.all(phones.map((phone) => sandbox.network.drop(phone)));
      await done;
      storm = {
        ms: Math.round(performance.now() - t),
        cpuMsPerSession: cpuMs(cpu) / n,
        maxDelayMs: loop.max / 1e6,
        extraDrops: tracker.drops - dropsBefore - n,
      };
      loop.disable();
      tracker.onWorking = null;
    }
    await Promise.all(clients.map((client) => client.stop()));
    await receiver?.close();
    await rm(dataDir, { recursive: true, force: true });

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
      ...(storm === undefined ? {} : { storm }),
    };
  } finally {
    watch.stop();
    await sandbox.close();
  }
}

/** Runs one phase in a child process; a child that outlives its own time limit by a minute is killed. */
function runChild(phase: Phase, n: number, args: readonly string[], limitS: number): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--phase', phase, '--n', String(n), '--phase-timeout', String(limitS), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let killed = false;
    // The child stops itself at its limit; this only catches one too starved to run its own timer.
    const backstop = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, (limitS + 60) * 1000);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(backstop);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (killed) {
        reject(new Error(`${phase} phase with N=${n} killed: still running ${limitS + 60} s after it started (limit ${limitS} s, --phase-timeout)`));
        return;
      }
      if (code !== 0) {
        reject(new Error(`${phase} phase with N=${n} exited with ${String(code)}${code === 3 ? ' (time limit; see its last lines above)' : ''}${out === '' ? '' : `: ${out}`}`));
        return;
      }
      resolve(JSON.parse(line) as PhaseResult);
    });
  });
}

const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const explicitConcurrency = args.includes('--concurrency') ? argValue(args, '--concurrency', 1) : null;
  const explicitLimit = args.includes('--phase-timeout') ? argValue(args, '--phase-timeout', 1) : null;
  const optionsFor = (n: number): Options => ({
    rate: argValue(args, '--rate', 50),
    seconds: argValue(args, '--seconds', 5),
    concurrency: explicitConcurrency ?? defaultConcurrency(n),
    contacts: argValue(args, '--contacts', 10),
  });
  const phaseAt = args.indexOf('--phase');
  if (phaseAt >= 0) {
    const phase = args[phaseAt + 1];
    if (phase !== 'engine' && phase !== 'baileys' && phase !== 'server') throw new Error('--phase must be engine, baileys or server');
    const n = argValue(args, '--n', 10);
    const result = await runPhase(phase, n, optionsFor(n), explicitLimit ?? defaultPhaseTimeout(n));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    // Baileys leaves timers behind (keep-alive, caches) even after end(): the phase is over.
    process.exit(0);
  }
  const phases = parsePhases(args);
  const sizes = args.filter((arg, i) => /^\d+$/.test(arg) && !(args[i - 1] ?? '').startsWith('--')).map(Number);
  const general = optionsFor(10);
  console.log(
    `NOWEB engine vs bare Baileys — ${general.rate} updates/s for ${general.seconds} s, ${general.contacts} contacts, start concurrency ${explicitConcurrency ?? '25 up to N = 100, 8 above'}, phases ${phases.join(',')}, Node ${process.version}`,
  );
  console.log('wall times suffer from other load on a shared machine; the CPU columns (this process only) do not');
  console.log('N     phase    all WORKING   resume   RSS/session  heap/session  deliveries      p50 ms   p99 ms   CPU/start  CPU/resume  CPU/update');
  for (const n of sizes.length === 0 ? [10] : sizes) {
    const options = optionsFor(n);
    const limitS = explicitLimit ?? defaultPhaseTimeout(n);
    const passOn = ['--rate', String(options.rate), '--seconds', String(options.seconds), '--concurrency', String(options.concurrency), '--contacts', String(options.contacts)];
    const row = (r: PhaseResult): void => {
      console.log(
        `${String(n).padEnd(6)}${r.phase.padEnd(9)}${`${r.allWorkingMs} ms`.padStart(11)}${`${r.resumeMs} ms`.padStart(10)}${`${fmt(r.rssPerSessionMb)} MB`.padStart(13)}${`${fmt(r.heapPerSessionMb)} MB`.padStart(14)}${`${r.deliveries}/${r.expectedDeliveries}`.padStart(14)}${fmt(r.p50Ms, 3).padStart(10)}${fmt(r.p99Ms, 3).padStart(9)}${`${fmt(r.cpuStartMsPerSession, 0)} ms`.padStart(12)}${`${fmt(r.cpuResumeMsPerSession, 1)} ms`.padStart(12)}${`${fmt(r.cpuPerUpdateMs, 2)} ms`.padStart(12)}`,
      );
    };
    const results = new Map<Phase, PhaseResult>();
    for (const phase of phases) {
      const result = await runChild(phase, n, passOn, limitS);
      results.set(phase, result);
      row(result);
      if (result.storm !== undefined) {
        const { ms, cpuMsPerSession, maxDelayMs, extraDrops } = result.storm;
        console.log(`${String(n).padEnd(6)}${result.phase.padEnd(9)}storm: all ${n} connections dropped at once → all WORKING again in ${ms} ms, CPU ${fmt(cpuMsPerSession, 1)} ms a session, event-loop delay max ${fmt(maxDelayMs, 0)} ms, ${extraDrops} further drops`);
      }
      if (result.webhook !== undefined) {
        console.log(`${String(n).padEnd(6)}server   webhook deliveries ${result.webhook.deliveries}/${result.expectedDeliveries}, contact change → webhook p50 ${fmt(result.webhook.p50Ms, 3)} ms, p99 ${fmt(result.webhook.p99Ms, 3)} ms`);
      }
    }
    const engine = results.get('engine');
    const bare = results.get('baileys');
    if (engine === undefined || bare === undefined) continue;
    console.log(
      `${String(n).padEnd(6)}ratio    ${`${fmt(engine.allWorkingMs / bare.allWorkingMs)}x`.padStart(11)}${`${fmt(engine.resumeMs / bare.resumeMs)}x`.padStart(10)}${`${fmt(engine.rssPerSessionMb / bare.rssPerSessionMb)}x`.padStart(13)}${`${fmt(engine.heapPerSessionMb / bare.heapPerSessionMb)}x`.padStart(14)}${''.padStart(14)}${`${fmt(engine.p50Ms / bare.p50Ms)}x`.padStart(10)}${`${fmt(engine.p99Ms / bare.p99Ms)}x`.padStart(9)}${`${fmt(engine.cpuStartMsPerSession / bare.cpuStartMsPerSession)}x`.padStart(12)}${`${fmt(engine.cpuResumeMsPerSession / bare.cpuResumeMsPerSession)}x`.padStart(12)}${`${fmt(engine.cpuPerUpdateMs / bare.cpuPerUpdateMs)}x`.padStart(12)}`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

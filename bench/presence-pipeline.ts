/**
 * The presence hot path end to end, for one session:
 *
 *   engine event (test/support/fake-engine.ts) → session manager (merge with the stored presence)
 *   → SQLite presence store → `presence.update` envelope → outbox (durable accept) → webhook worker
 *   → HTTP POST to a local receiver
 *
 * through the whole server of `createServer` (src/server.ts: the same object graph `npm start`
 * builds, listening on a loopback port), with the engine double instead of NOWEB: the real session
 * manager, storage, outbox publisher, delivery worker and WebSocket hub (no client connected). The
 * receiver runs in a child process, so `process.cpuUsage()` here counts the server side only.
 *
 *   npx tsx bench/presence-pipeline.ts [--contacts 1000] [--seconds 10] [--window 256] [--rate 1000]
 *                                      [--hmac] [--no-webhook] [--skip-sustained] [--skip-paced] [--history]
 *                                      [--metrics off|on|compare] [--pg postgres://…]
 *
 * 1. Sustained: engine events are emitted as fast as the pipeline takes them, keeping at most
 *    `--window` updates emitted and not yet finished (received by the webhook and its outcome
 *    recorded; without a webhook, accepted by the publisher), for `--seconds`. Prints updates/s,
 *    CPU ms per update, latency (which includes waiting in the window) and heap/RSS.
 * 2. Paced: `--rate` updates/s offered on a 5 ms tick for `--seconds`: latency from the engine event
 *    to the receiver having the request (without a webhook: to the publish being accepted).
 *
 * Every update changes something (its `lastSeen` is a fresh sequence number, which the receiver
 * reads back to match it to its emit time); contacts are visited round robin. `--no-webhook`: the
 * session has no webhook, the path ends at the publisher's accept (told through an in-process hub client). `--hmac`: the webhook signs its bodies.
 * `--metrics on`: WA_PRESENCE_METRICS=true, so the server instruments itself as in production
 * (storage, engine factory, publisher and delivery observers, scrape-time gauges) and is scraped
 * every second; off: WA_PRESENCE_METRICS=false; `--metrics compare` runs
 * the benchmark twice in child processes, off then on, and prints the CPU an update of each and
 * their ratio (issue 16's bound: at most 3 % more).
 * `--pg <url>`: PostgreSQL instead of SQLite (e.g. postgres://postgres@127.0.0.1:5432/test), in a
 * fresh schema dropped afterwards.
 * `--history`: presence history is on for the session (src/sessions/history-recorder.ts records
 * every stored change in the background); run with and without to compare. Each phase waits for
 * the history writes of its updates, and on SQLite also prints the CPU spent in the history store's
 * writes (its batched inserts and their commits, measured around each synchronous call), an
 * estimate of history's own cost that the machine's load does not swamp.
 * `--history-compare [--rounds 3]`: the benchmark off, on, off, on… (`--rounds` pairs), each in a
 * process of its own, then per phase the median CPU an update of each and their ratio (issue 14's
 * bound: at most 10 % more). On a busy machine single runs vary by ±20 %: compare medians.
 * A short warm-up runs first and is not counted. Profile with
 * `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/presence-pipeline.ts …` and
 * `npx tsx bench/cpuprofile.ts /tmp/prof/<file>.cpuprofile`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import type { SessionConfig } from '../src/presence/sessions.js';
import { createServer } from '../src/server.js';
import type { PresenceHistoryStore } from '../src/storage/history.js';
import { openStorage } from '../src/storage/index.js';
import { FakeEngineFactory } from '../test/support/fake-engine.js';

// ---- command line --------------------------------------------------------------------------------
const FLAGS = new Set(['--hmac', '--no-webhook', '--skip-sustained', '--skip-paced', '--history', '--history-compare']);
const OPTIONS = new Set(['--contacts', '--seconds', '--window', '--rate', '--metrics', '--pg', '--rounds']);

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index === -1) return fallback;
  const text = process.argv[index + 1] ?? '';
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: "${text}" is not a positive whole number`);
  return value;
}

const args = process.argv.slice(2);
for (const [i, arg] of args.entries()) {
  if (!arg.startsWith('--')) {
    if (!OPTIONS.has(args[i - 1] ?? '')) throw new Error(`unexpected argument "${arg}"`);
  } else if (!FLAGS.has(arg) && !OPTIONS.has(arg)) {
    throw new Error(`unknown option ${arg}; known: ${[...OPTIONS, ...FLAGS].join(' ')}`);
  }
}
const contacts = option('--contacts', 1000);
const seconds = option('--seconds', 10);
const window = option('--window', 256);
const rate = option('--rate', 1000);
const withWebhook = !process.argv.includes('--no-webhook');
const withHmac = process.argv.includes('--hmac');
const METRICS_MODES = ['off', 'on', 'compare'] as const;
const metricsArg = process.argv.includes('--metrics') ? (process.argv[process.argv.indexOf('--metrics') + 1] ?? '') : 'off';
const metricsMode = METRICS_MODES.find((mode) => mode === metricsArg);
if (metricsMode === undefined) throw new Error(`--metrics: "${metricsArg}" is not one of ${METRICS_MODES.join(', ')}`);

/** `--metrics compare`: this benchmark off, then on, each in a process of its own; the CPU an update of each phase side by side. */
async function compare(): Promise<void> {
  const rest = args.filter((arg, i) => arg !== '--metrics' && args[i - 1] !== '--metrics');
  const runOnce = (mode: 'off' | 'on'): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? '', ...rest, '--metrics', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        process.stdout.write(`[metrics ${mode}] ${chunk.toString('utf8')}`);
      });
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`the run with metrics ${mode} exited with ${code}`))));
    });
  const cpuOf = (out: string): Map<string, number> =>
    new Map([...out.matchAll(/^([^:\n]+): \d+ updates, .*CPU ([\d.]+) ms\/update/gm)].map((match) => [match[1] ?? '', Number(match[2])]));
  const off = cpuOf(await runOnce('off'));
  const on = cpuOf(await runOnce('on'));
  for (const [phase, cpuOff] of off) {
    const cpuOn = on.get(phase);
    if (cpuOn === undefined) continue;
    console.log(`${phase}: CPU an update ${cpuOff.toFixed(3)} ms without metrics, ${cpuOn.toFixed(3)} ms with (${(((cpuOn - cpuOff) / cpuOff) * 100).toFixed(1)} %)`);
  }
}
if (metricsMode === 'compare') {
  await compare();
  process.exit(0);
}

/** `--history-compare`: off and on alternating, `--rounds` pairs, each run a process of its own; medians per phase. */
async function compareHistory(): Promise<void> {
  const rounds = option('--rounds', 3);
  const rest = args.filter((arg, i) => arg !== '--history-compare' && arg !== '--history' && arg !== '--rounds' && args[i - 1] !== '--rounds');
  const cpu: Record<'off' | 'on', Map<string, number[]>> = { off: new Map(), on: new Map() };
  const median = (values: readonly number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
  };
  for (let round = 1; round <= rounds; round += 1) {
    for (const mode of ['off', 'on'] as const) {
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? '', ...rest, ...(mode === 'on' ? ['--history'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          process.stdout.write(`[history ${mode} ${round}] ${chunk.toString('utf8')}`);
        });
        child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`the run with history ${mode} exited with ${code}`))));
      });
      for (const match of out.matchAll(/^([^:\n]+): \d+ updates, .*CPU ([\d.]+) ms\/update/gm)) {
        const phase = match[1] ?? '';
        cpu[mode].set(phase, [...(cpu[mode].get(phase) ?? []), Number(match[2])]);
      }
    }
  }
  for (const [phase, offRuns] of cpu.off) {
    const onRuns = cpu.on.get(phase);
    if (onRuns === undefined) continue;
    const off = median(offRuns);
    const on = median(onRuns);
    const list = (runs: readonly number[]): string => runs.map((value) => value.toFixed(3)).join(', ');
    console.log(`${phase}: CPU an update, median of ${offRuns.length}: ${off.toFixed(3)} ms without history (${list(offRuns)}), ${on.toFixed(3)} ms with (${list(onRuns)}): ${(((on - off) / off) * 100).toFixed(1)} %`);
  }
}
if (process.argv.includes('--history-compare')) {
  await compareHistory();
  process.exit(0);
}
// The system-wide monotonic clock (CLOCK_MONOTONIC on Linux), read the same way in the receiver's
// process: `performance.timeOrigin` is each process's own estimate of its start on the wall clock,
// and two processes' estimates were seen to differ by milliseconds (negative latencies).
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`;

// ---- receiver (child process) ----------------------------------------------------------------------
// Plain JavaScript in its own process: its CPU is not ours. It reads the sequence number back from
// `lastSeen` and reports when each arrived.
const RECEIVER_SOURCE = `
const { createServer } = require('node:http');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const seqs = [];
const times = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const at = now();
    const match = /"lastSeen":(\\d+)/.exec(Buffer.concat(chunks).toString('utf8'));
    if (match !== null) { seqs.push(Number(match[1])); times.push(at); }
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (message) => {
  if (message === 'report') { process.send({ seqs, times }); seqs.length = 0; times.length = 0; }
  if (message === 'stop') server.close(() => process.exit(0));
});
`;

interface Receiver {
  readonly url: string;
  /** Sequence number → arrival time (ms on the monotonic clock) of everything received since the last report. */
  report(): Promise<Map<number, number>>;
  stop(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = spawn(process.execPath, ['-e', RECEIVER_SOURCE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number }));
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    report: () =>
      new Promise((resolve) => {
        child.once('message', (m) => {
          const { seqs, times } = m as { seqs: number[]; times: number[] };
          resolve(new Map(seqs.map((seq, i) => [seq, times[i] ?? Number.NaN])));
        });
        child.send('report');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

// ---- the server side ---------------------------------------------------------------------------------
const BASE_SEQ = 1_700_000_000;
const silent = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });
const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-pipeline-'));
const pgUrl = process.argv.includes('--pg') ? (process.argv[process.argv.indexOf('--pg') + 1] ?? '') : null;
if (pgUrl !== null && !/^postgres(ql)?:\/\//.test(pgUrl)) throw new Error(`--pg: "${pgUrl}" is not a postgres:// URL`);
const PG_SCHEMA = `bench_pipeline_${process.pid}`;
async function dropPgSchema(): Promise<void> {
  if (pgUrl === null) return;
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
  } finally {
    await client.end();
  }
}
await dropPgSchema();
const receiver = withWebhook ? await startReceiver() : null;

let finished = 0;
let onFinished: (() => void) | null = null;
/** Sequence number → when it was finished here (accepted, or its delivery outcome recorded). */
const finishedAt = new Map<number, number>();
function finish(seq: number): void {
  finished += 1;
  finishedAt.set(seq, now());
  onFinished?.();
}
const LAST_SEEN = /"lastSeen":(\d+)/;

// The whole server of `createServer` (src/server.ts), as `npm start` builds it, with the engine
// double instead of NOWEB and listening on a free loopback port; PostgreSQL means the
// several-servers mode (leases, the event relay), as in production.
const withHistory = process.argv.includes('--history');
const engines = new FakeEngineFactory();
/** CPU (µs) spent inside the history store's calls. SQLite's are synchronous, so the delta around a call is its own work. */
let historyStoreUs = 0;
function timedHistory(store: PresenceHistoryStore): PresenceHistoryStore {
  const timed = <A extends unknown[], R>(call: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> => {
      const before = process.cpuUsage();
      const result = call(...a);
      const used = process.cpuUsage(before);
      historyStoreUs += used.user + used.system;
      return result;
    };
  return {
    ...store,
    append: timed((changes: Parameters<PresenceHistoryStore['append']>[0]) => store.append(changes)),
    last: timed((session: string, chatId: string, participant: string) => store.last(session, chatId, participant)),
  };
}
// Opened here (the server leaves a storage it was given open) so that, on SQLite, the history store's
// calls are timed.
const opened = await openStorage({ dataDir, databaseUrl: pgUrl, ...(pgUrl === null ? {} : { schema: PG_SCHEMA }) });
const storage = pgUrl === null ? { ...opened, history: timedHistory(opened.history) } : opened;
const server = await createServer(
  loadConfig(
    {
      WHATSAPP_API_KEY: 'bench-key',
      WA_PRESENCE_DATA_DIR: dataDir,
      WA_PRESENCE_METRICS: metricsMode === 'on' ? 'true' : 'false',
      WA_PRESENCE_METRICS_SESSION_LABELS: 'false',
      ...(pgUrl === null ? {} : { WA_PRESENCE_DATABASE_URL: pgUrl, WA_PRESENCE_DATABASE_SCHEMA: PG_SCHEMA }),
    },
    [],
  ),
  {
    logger: silent,
    storage,
    engines,
    listen: { host: '127.0.0.1', port: 0 },
    worker: {
      onAttempt: (delivery, outcome) => {
        if (outcome.kind !== 'delivered') throw new Error(`delivery ${delivery.id} not delivered: ${JSON.stringify(outcome)}`);
        const match = LAST_SEEN.exec(delivery.body);
        finish(match === null ? Number.NaN : Number(match[1]));
      },
    },
  },
);
// Without a webhook, "finished" is the event accepted by the outbox publisher, which hands it to
// the WebSocket hub right after: this one in-process client (no socket) is told.
if (!withWebhook) {
  server.events.hub.subscribe(
    { session: '*', events: ['presence.update'] },
    {
      bufferedAmount: 0,
      send: (data) => {
        const match = LAST_SEEN.exec(data);
        finish(match === null ? Number.NaN : Number(match[1]));
      },
      close: () => undefined,
    },
  );
}
const config: SessionConfig = {
  ...(receiver === null ? {} : { webhooks: [{ url: receiver.url, events: ['presence.update'], ...(withHmac ? { hmac: { key: 'bench-hmac-key' } } : {}) }] }),
  ...(withHistory ? { presenceHistory: { enabled: true } } : {}),
};
// Scraped every second, as a Prometheus with scrape_interval 1s would (its CPU is counted).
let scrapes: NodeJS.Timeout | null = null;
const registry = server.metrics?.registry;
if (registry !== undefined) {
  scrapes = setInterval(() => {
    registry.metrics().catch((error: unknown) => console.error('scrape failed', error));
  }, 1000);
}
await server.start();
await server.sessions.create({ name: 'bench', config });
const engine = engines.latest('bench');
engine.working();
await server.sessions.settled('bench');

let sequence = 0;
const emittedAt = new Map<number, number>();
function emitOne(): void {
  const i = sequence;
  sequence += 1;
  const chatId = `${4915550000000 + (i % contacts)}@c.us`;
  const presence = Math.floor(i / contacts) % 2 === 0 ? 'online' : 'offline';
  const seq = BASE_SEQ + i;
  emittedAt.set(seq, now());
  engine.presence(chatId, [{ participant: chatId, lastKnownPresence: presence, lastSeen: seq }]);
}

function waitFinished(count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (finished >= count) {
        onFinished = null;
        resolve();
      }
    };
    onFinished = check;
    check();
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

interface PhaseResult {
  readonly updates: number;
  readonly rate: number;
  readonly cpuMsPerUpdate: number;
  /** Of it, in the kernel (system calls: SQLite's writes, sockets). */
  readonly systemMsPerUpdate: number;
  /** CPU in the history store's writes (SQLite), per update. */
  readonly historyMsPerUpdate: number;
  /** Busy CPU of the whole machine (all processes) per update; null off Linux. */
  readonly machineMsPerUpdate: number | null;
  readonly p50: number;
  readonly p99: number;
}

/** Latencies of the updates of one phase: emitted → received (webhook) or → accepted (none). */
async function latencies(first: number, last: number): Promise<number[]> {
  const arrived = receiver === null ? finishedAt : await receiver.report();
  const result: number[] = [];
  for (let seq = first; seq < last; seq += 1) {
    const at = arrived.get(seq);
    const emitted = emittedAt.get(seq);
    if (at !== undefined && emitted !== undefined) result.push(at - emitted);
  }
  emittedAt.clear();
  finishedAt.clear();
  return result.sort((a, b) => a - b);
}

/** Keeps `window` updates in flight for `durationMs`, then waits for the last to finish. */
async function sustained(durationMs: number): Promise<PhaseResult> {
  const firstSeq = BASE_SEQ + sequence;
  const startFinished = finished;
  const startEmitted = sequence;
  const cpu = process.cpuUsage();
  const machine = machineBusyMs();
  const historyUs = historyStoreUs;
  const started = now();
  let stopEmitting = false;
  let scheduled = false;
  // Engine events arrive from socket callbacks, one macrotask each at most: emit from setImmediate.
  const pump = (): void => {
    scheduled = false;
    while (!stopEmitting && sequence - startEmitted - (finished - startFinished) < window) emitOne();
  };
  onFinished = () => {
    if (!scheduled && !stopEmitting) {
      scheduled = true;
      setImmediate(pump);
    }
  };
  pump();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  stopEmitting = true;
  const total = sequence - startEmitted;
  return measured({ firstSeq, total, until: startFinished + total, started, cpu, historyUs, machine });
}

/**
 * The whole machine's busy CPU time in ms (every process: this server, the receiver and, with
 * --pg, PostgreSQL's backends), from /proc/stat; null where there is none (not Linux).
 */
function machineBusyMs(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  // cpu  user nice system idle iowait irq softirq steal …, in clock ticks (USER_HZ, 100 on Linux).
  const fields = (text.split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const busy = fields.reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
  return busy * 10;
}

/** Waits for the phase's last update to reach the receiver, then sums the phase up. */
async function measured(phase: { firstSeq: number; total: number; until: number; started: number; cpu: NodeJS.CpuUsage; historyUs: number; machine: number | null }): Promise<PhaseResult> {
  const { firstSeq, total } = phase;
  await waitFinished(phase.until);
  const machine = machineBusyMs();
  // History is written in the background: its writes for this phase's updates are part of their cost.
  if (withHistory) await server.history.flush();
  const elapsed = now() - phase.started;
  const used = process.cpuUsage(phase.cpu);
  const sorted = await latencies(firstSeq, firstSeq + total);
  return {
    updates: total,
    rate: total / (elapsed / 1000),
    cpuMsPerUpdate: (used.user + used.system) / 1000 / total,
    systemMsPerUpdate: used.system / 1000 / total,
    historyMsPerUpdate: (historyStoreUs - phase.historyUs) / 1000 / total,
    machineMsPerUpdate: machine === null || phase.machine === null ? null : (machine - phase.machine) / total,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/** Offers `perSecond` updates on a 5 ms tick for `durationMs`. */
async function paced(perSecond: number, durationMs: number): Promise<PhaseResult> {
  const firstSeq = BASE_SEQ + sequence;
  const startFinished = finished;
  const startEmitted = sequence;
  const total = Math.round((perSecond * durationMs) / 1000);
  const cpu = process.cpuUsage();
  const machine = machineBusyMs();
  const historyUs = historyStoreUs;
  const started = now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - started) / 1000) * perSecond));
      while (sequence - startEmitted < due) emitOne();
      if (sequence - startEmitted >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  return measured({ firstSeq, total, until: startFinished + total, started, cpu, historyUs, machine });
}

const path = withWebhook ? `to the webhook${withHmac ? ' (HMAC)' : ''}` : 'to the publisher (no webhook)';
console.log(`node ${process.version}; ${pgUrl === null ? 'SQLite' : 'PostgreSQL'}; one session, ${contacts} contacts, ${path}, history ${withHistory ? 'on' : 'off'}; ${seconds} s a phase; metrics ${metricsMode}`);
console.log(`start: ${load()}`);
await sustained(Math.min(2000, seconds * 1000));
global.gc?.();
const lines: string[] = [];
const describe = (name: string, r: PhaseResult): string =>
  `${name}: ${r.updates} updates, ${r.rate.toFixed(0)} updates/s, CPU ${r.cpuMsPerUpdate.toFixed(3)} ms/update (system ${r.systemMsPerUpdate.toFixed(3)}` +
  `${r.machineMsPerUpdate === null ? '' : `; the machine's ${r.machineMsPerUpdate.toFixed(3)}`}), ` +
  `engine event → ${withWebhook ? 'webhook received' : 'accepted'} p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms` +
  (withHistory && pgUrl === null ? `; history store writes ${r.historyMsPerUpdate.toFixed(3)} ms an update (${((r.historyMsPerUpdate / r.cpuMsPerUpdate) * 100).toFixed(1)} % of it)` : '');
if (!process.argv.includes('--skip-sustained')) {
  const r = await sustained(seconds * 1000);
  lines.push(describe(`sustained (window ${window})`, r));
  console.log(lines.at(-1));
}
if (!process.argv.includes('--skip-paced')) {
  const r = await paced(rate, seconds * 1000);
  lines.push(describe(`paced ${rate}/s`, r));
  console.log(lines.at(-1));
}
// With `node --expose-gc`, the heap is measured after a collection (without, it includes garbage).
global.gc?.();
const memory = process.memoryUsage();
console.log(`memory: heap used ${mb(memory.heapUsed)}, RSS ${mb(memory.rss)}; worker ${JSON.stringify(server.events.worker.stats())}`);
console.log(`end: ${load()}`);

if (scrapes !== null) clearInterval(scrapes);
await server.close();
await storage.close();
await receiver?.stop();
await dropPgSchema();
await rm(dataDir, { recursive: true, force: true });

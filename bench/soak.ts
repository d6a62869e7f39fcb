/**
 * Soak: the presence path of many sessions for a long time, to a receiver that fails some requests.
 *
 *   node --expose-gc --import tsx bench/soak.ts [minutes, default 30] [--rate 500] [--sessions 100]
 *                                               [--contacts 20] [--fail-every 20] [--every 10]
 *
 * `--sessions` sessions (the whole server of `createServer` with the test engine double, SQLite in a
 * temp dir, one webhook each, all to the same receiver) get `--rate` presence
 * updates a second between them (round robin over sessions, then over each one's `--contacts`),
 * offered on a 10 ms tick. The receiver runs in another process and answers 500 to one request in
 * `--fail-every` (the worker retries those with its default backoff, so their events arrive
 * seconds later, behind which their chat's later events wait: per-chat order).
 *
 * Every `--every` seconds a line: heap used (after a collection with --expose-gc) and RSS, the
 * outbox backlog (pending deliveries), and engine event → first 2xx at the receiver p50/p99 of the
 * updates received in that interval. At the end: the emitting stops, the backlog drains (at most
 * two minutes), and it prints heap/RSS growth from the end of the warm-up (a fifth of the run, at
 * most 5 min) to the end, p99 of the first and of the last window (5 min, or a third of a shorter
 * run), and how many updates never reached the receiver (lost).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createServer } from '../src/server.js';
import { FakeEngineFactory } from '../test/support/fake-engine.js';

const OPTIONS = ['--rate', '--sessions', '--contacts', '--fail-every', '--every'];
const args = process.argv.slice(2);
let minutesArg: string | undefined;
for (const [i, arg] of args.entries()) {
  if (arg.startsWith('--')) {
    if (!OPTIONS.includes(arg)) throw new Error(`unknown option ${arg}; known: ${OPTIONS.join(' ')}`);
  } else if (!OPTIONS.includes(args[i - 1] ?? '')) {
    if (minutesArg !== undefined) throw new Error(`unexpected argument "${arg}"`);
    minutesArg = arg;
  }
}
function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: "${text}" is not a positive number`);
  return value;
}
function option(name: string, fallback: number): number {
  const index = args.indexOf(name);
  return index === -1 ? fallback : Math.round(positive(name, args[index + 1] ?? ''));
}
const minutes = minutesArg === undefined ? 30 : positive('minutes', minutesArg);
const rate = option('--rate', 500);
const sessionCount = option('--sessions', 100);
const contacts = option('--contacts', 20);
const failEvery = option('--fail-every', 20);
const everySeconds = option('--every', 10);

// The system-wide monotonic clock, read the same way in the receiver's process (each process's
// `performance.timeOrigin` is its own estimate of the wall clock and they differ by milliseconds).
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const gc = (globalThis as { gc?: () => void }).gc;

// ---- receiver (child process): 500 to one request in N, reports the sequence numbers it accepted ----
const RECEIVER_SOURCE = `
const { createServer } = require('node:http');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const failEvery = Number(process.argv[1]);
let requests = 0;
let seqs = [];
let times = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    requests += 1;
    if (requests % failEvery === 0) { res.writeHead(500).end(); return; }
    const match = /"lastSeen":(\\d+)/.exec(Buffer.concat(chunks).toString('utf8'));
    if (match !== null) { seqs.push(Number(match[1])); times.push(now()); }
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (message) => {
  if (message === 'report') { process.send({ seqs, times, requests }); seqs = []; times = []; }
  if (message === 'stop') server.close(() => process.exit(0));
});
`;
const child = spawn(process.execPath, ['-e', RECEIVER_SOURCE, String(failEvery)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const { port } = await new Promise<{ port: number }>((resolve, reject) => {
  child.once('message', (m) => resolve(m as { port: number }));
  child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
});
function report(): Promise<{ seqs: number[]; times: number[]; requests: number }> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as { seqs: number[]; times: number[]; requests: number }));
    child.send('report');
  });
}

// ---- server side -----------------------------------------------------------------------------------
const silent = pino({ level: 'silent' });
const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-soak-'));
const engines = new FakeEngineFactory();
// The whole server of `createServer` (src/server.ts), as `npm start` builds it (metrics on, its
// default), with the engine double instead of NOWEB, on a free loopback port.
const server = await createServer(loadConfig({ WHATSAPP_API_KEY: 'soak-key', WA_PRESENCE_DATA_DIR: dataDir }, []), {
  logger: silent,
  engines,
  listen: { host: '127.0.0.1', port: 0 },
});
await server.start();
const manager = server.sessions;
const storage = server.storage;
const names = Array.from({ length: sessionCount }, (_, i) => `soak${i}`);
for (const name of names) {
  await manager.create({ name, config: { webhooks: [{ url: `http://127.0.0.1:${port}/hook`, events: ['presence.update'] }] } });
  engines.latest(name).working();
}
for (const name of names) await manager.settled(name);

const BASE_SEQ = 1_700_000_000;
let sequence = 0;
const emittedAt = new Map<number, number>();
function emitOne(): void {
  const i = sequence;
  sequence += 1;
  const name = names[i % sessionCount] ?? '';
  const round = Math.floor(i / sessionCount);
  const chatId = `${4915550000000 + (round % contacts)}@c.us`;
  const seq = BASE_SEQ + i;
  emittedAt.set(seq, now());
  // lastSeen is the sequence number: every update is a change, and the receiver reads it back.
  engines.latest(name).presence(chatId, [{ participant: chatId, lastKnownPresence: Math.floor(round / contacts) % 2 === 0 ? 'online' : 'offline', lastSeen: seq }]);
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
// Bounded bookkeeping: `emittedAt` holds only the updates not yet received (a few seconds' worth),
// so the benchmark's own heap does not grow with the run and hide or fake a leak of the server's.
let receivedCount = 0;
interface Sample {
  readonly atMs: number;
  readonly heap: number;
  readonly rss: number;
  readonly backlog: number;
  readonly latencies: number[];
}
const samples: Sample[] = [];
const started = now();
async function sample(): Promise<Sample> {
  const got = await report();
  const latencies: number[] = [];
  got.seqs.forEach((seq, index) => {
    const emitted = emittedAt.get(seq);
    // Not in the map: a second copy of one already received (at least once), not counted again.
    if (emitted === undefined) return;
    latencies.push((got.times[index] ?? Number.NaN) - emitted);
    receivedCount += 1;
    emittedAt.delete(seq);
  });
  latencies.sort((a, b) => a - b);
  gc?.();
  const memory = process.memoryUsage();
  const s: Sample = { atMs: now() - started, heap: memory.heapUsed, rss: memory.rss, backlog: await storage.outbox.countPending(), latencies };
  // Latencies are kept only for the first and the last window (the summary compares those two):
  // kept for every sample, they would grow the heap by 8 bytes an update.
  const inWindow = s.atMs <= windowMs || s.atMs > durationMs - windowMs;
  samples.push(inWindow ? s : { ...s, latencies: [] });
  console.log(
    `${(s.atMs / 1000).toFixed(0).padStart(5)} s  heap ${mb(s.heap)}  RSS ${mb(s.rss)}  backlog ${s.backlog}  received ${latencies.length} (p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms)  emitted ${sequence}  ${load()}`,
  );
  return s;
}

console.log(`soak: ${minutes} min, ${rate} updates/s over ${sessionCount} sessions × ${contacts} contacts, receiver fails 1 request in ${failEvery}; heap after gc: ${gc !== undefined}; ${load()}`);
const cpu = process.cpuUsage();
const durationMs = minutes * 60_000;
const windowMs = Math.min(5 * 60_000, durationMs / 3);
const TICK_MS = 10;
let owed = 0;
let last = now();
const ticker = setInterval(() => {
  const t = now();
  owed += ((t - last) * rate) / 1000;
  last = t;
  while (owed >= 1) {
    emitOne();
    owed -= 1;
  }
}, TICK_MS);
const sampler = setInterval(() => void sample(), everySeconds * 1000);
await new Promise((resolve) => setTimeout(resolve, durationMs));
clearInterval(ticker);
clearInterval(sampler);
const emitted = sequence;
const usage = process.cpuUsage(cpu);
console.log(`emitting stopped after ${emitted} updates (${(emitted / (durationMs / 1000)).toFixed(0)}/s), CPU ${((usage.user + usage.system) / 1000 / emitted).toFixed(3)} ms an update; draining`);
const drainDeadline = now() + 120_000;
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const s = await sample();
  if (receivedCount >= emitted || now() > drainDeadline) break;
  if (s.backlog === 0 && receivedCount < emitted) {
    // Nothing pending any more: whatever has not arrived will not.
    await sample();
    break;
  }
}

// ---- summary ---------------------------------------------------------------------------------------
const during = samples.filter((s) => s.atMs <= durationMs + everySeconds * 500);
const warmupMs = Math.min(5 * 60_000, durationMs / 5);
const afterWarmup = during.find((s) => s.atMs >= warmupMs) ?? during[0];
const end = during.at(-1);
const pooled = (list: readonly Sample[]): number[] => list.flatMap((s) => s.latencies).sort((a, b) => a - b);
const first = pooled(during.filter((s) => s.atMs <= windowMs));
const lastWindow = pooled(during.filter((s) => s.atMs > durationMs - windowMs));
const growth = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(1)} %`;
if (afterWarmup !== undefined && end !== undefined) {
  console.log(`heap ${mb(afterWarmup.heap)} → ${mb(end.heap)} (${growth(afterWarmup.heap, end.heap)}), RSS ${mb(afterWarmup.rss)} → ${mb(end.rss)} (${growth(afterWarmup.rss, end.rss)}) from ${(afterWarmup.atMs / 1000).toFixed(0)} s to ${(end.atMs / 1000).toFixed(0)} s`);
  console.log(`backlog: at most ${Math.max(...during.map((s) => s.backlog))} pending during the run, ${end.backlog} at its end`);
}
console.log(`p99 first ${(windowMs / 60_000).toFixed(1)} min ${percentile(first, 99).toFixed(1)} ms (p50 ${percentile(first, 50).toFixed(1)}, ${first.length} updates); last ${(windowMs / 60_000).toFixed(1)} min ${percentile(lastWindow, 99).toFixed(1)} ms (p50 ${percentile(lastWindow, 50).toFixed(1)}, ${lastWindow.length} updates)`);
console.log(`lost: ${emittedAt.size} of ${emitted} never reached the receiver; worker ${JSON.stringify(server.events.worker.stats())}; ${load()}`);

await server.close();
child.send('stop');
await rm(dataDir, { recursive: true, force: true });

/**
 * The two presence read routes against a bare Fastify route serving the same body:
 *
 *   GET /api/default/presence/{chatId}   (one chat)
 *   GET /api/default/presence            (every chat of the session, `--chats` of them)
 *
 * Ours is the whole server of `createServer` (the test engine double instead of NOWEB, SQLite in a
 * temp dir, default config: API key, metrics, request ids), its presence filled through the engine
 * path (the engine reports `--chats` chats, each stored, cached and published). The baseline is a
 * Fastify instance with one route per path and no hooks, answering the body ours answered, with the
 * same response schema. Both listen on 127.0.0.1 in this process; Debian's `wrk` loads them in
 * another process, alternately (ours, bare, ours, … with the order swapped every round), for
 * `--seconds` each, `--rounds` times; prints req/s of each run and the ratio ours ÷ bare per route
 * (median of the rounds), and beside it the ratio by this process's CPU time a request (bare ÷ ours:
 * the same sense), which a neighbour stealing the core moves less than req/s.
 *
 *   npx tsx bench/reads.ts [--chats 200] [--seconds 5] [--rounds 3] [--connections 32] [--threads 1] [--pin]
 *
 * `--pin` (Linux, `taskset`): this process on CPU 0 and wrk on CPU 1, so the two do not take turns
 * on one core, which is most of the run-to-run noise on a 2-core machine.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Type } from '@fastify/type-provider-typebox';
import { fastify } from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { ChatPresenceSchema } from '../src/http/schemas.js';
import { createServer } from '../src/server.js';
import { FakeEngineFactory } from '../test/support/fake-engine.js';

const OPTIONS = ['--chats', '--seconds', '--rounds', '--connections', '--threads'];
const pin = process.argv.includes('--pin');
const args = process.argv.slice(2).filter((arg) => arg !== '--pin');
for (const [i, arg] of args.entries()) {
  if (arg.startsWith('--') ? !OPTIONS.includes(arg) : !OPTIONS.includes(args[i - 1] ?? '')) {
    throw new Error(`unexpected argument "${arg}"; known: ${OPTIONS.join(' ')} (each with a positive whole number)`);
  }
}
function option(name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index === -1) return fallback;
  const text = args[index + 1] ?? '';
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}: "${text}" is not a positive whole number`);
  return value;
}
const chats = option('--chats', 200);
const seconds = option('--seconds', 5);
const rounds = option('--rounds', 3);
const connections = option('--connections', 32);
const threads = option('--threads', 1);
const WRK = '/usr/bin/wrk';
const API_KEY = 'reads-bench-key-0123456789abcdef';
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`;
const execute = promisify(execFile);
if (pin) await execute('taskset', ['-p', '-a', '-c', '0', String(process.pid)]);
const run = (command: string, commandArgs: readonly string[]): Promise<{ stdout: string }> =>
  pin ? execute('taskset', ['-c', '1', command, ...commandArgs], { encoding: 'utf8' }) : execute(command, [...commandArgs], { encoding: 'utf8' });

// ---- ours ------------------------------------------------------------------------------------------
const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-reads-'));
const engines = new FakeEngineFactory();
const server = await createServer(loadConfig({ WHATSAPP_API_KEY: API_KEY, WA_PRESENCE_DATA_DIR: dataDir }, []), {
  engines,
  logger: pino({ level: 'silent' }),
  listen: { host: '127.0.0.1', port: 0 },
});
const ours = await server.start();
await server.sessions.create({ name: 'default', start: true });
engines.latest('default').working();
const chatIds = Array.from({ length: chats }, (_, i) => `${15550100000 + i}@c.us`);
const started = Math.floor(Date.now() / 1000);
for (const [i, chatId] of chatIds.entries()) {
  engines.latest('default').presence(chatId, [{ participant: chatId, lastKnownPresence: i % 3 === 0 ? 'online' : 'offline', lastSeen: started - i }]);
}
await server.sessions.settled('default');
const oneChat = chatIds[0] ?? '';
const paths = { one: `/api/default/presence/${oneChat}`, list: '/api/default/presence' } as const;

async function bodyOf(path: string): Promise<unknown> {
  const response = await fetch(`${ours}${path}`, { headers: { 'x-api-key': API_KEY } });
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
  return response.json();
}
// The first read subscribes the chat; every later one finds it subscribed.
const oneBody = await bodyOf(paths.one);
const listBody: unknown = await bodyOf(paths.list);
if (!Array.isArray(listBody) || listBody.length !== chats) throw new Error(`the list has ${Array.isArray(listBody) ? listBody.length : 'no'} chats, not ${chats}`);
const listed: readonly unknown[] = listBody;

// ---- bare Fastify ----------------------------------------------------------------------------------
const bare = fastify({ logger: false });
bare.get(paths.one, { schema: { response: { 200: ChatPresenceSchema } } }, () => oneBody);
bare.get(paths.list, { schema: { response: { 200: Type.Array(ChatPresenceSchema) } } }, () => listed);
const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });

// ---- load ------------------------------------------------------------------------------------------
interface Load {
  readonly rps: number;
  /** This process's CPU time (user + system) a request, µs: what another process on the same core does not move. */
  readonly cpuUs: number;
}

async function wrk(url: string): Promise<Load> {
  const cpu = process.cpuUsage();
  const { stdout } = await run(WRK, [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '-H', `X-Api-Key: ${API_KEY}`, url]);
  const used = process.cpuUsage(cpu);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const total = /(\d+) requests in/.exec(stdout);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (errors !== null) throw new Error(`wrk ${url}: ${errors[1]} responses were not 2xx:\n${stdout}`);
  if (rps?.[1] === undefined || total?.[1] === undefined) throw new Error(`wrk printed no Requests/sec:\n${stdout}`);
  return { rps: Number(rps[1]), cpuUs: (used.user + used.system) / Number(total[1]) };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

console.log(`reads: ${chats} chats, wrk -t${threads} -c${connections} -d${seconds}s, ${rounds} rounds; ${load()}`);
try {
  for (const [name, path] of Object.entries(paths)) {
    // Warm-up of both (JIT, connection pools), not counted.
    await run(WRK, ['-t1', '-c8', '-d2s', '-H', `X-Api-Key: ${API_KEY}`, `${ours}${path}`]);
    await run(WRK, ['-t1', '-c8', '-d2s', `${bareUrl}${path}`]);
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const);
      const loads: Partial<Record<'ours' | 'bare', Load>> = {};
      for (const who of order) loads[who] = await wrk(`${who === 'ours' ? ours : bareUrl}${path}`);
      const { ours: mine, bare: theirs } = loads;
      if (mine === undefined || theirs === undefined) throw new Error('a round lost a run');
      ratios.push(mine.rps / theirs.rps);
      cpuRatios.push(theirs.cpuUs / mine.cpuUs);
      console.log(
        `  GET ${path}: ours ${mine.rps.toFixed(0)} req/s (${mine.cpuUs.toFixed(1)} µs CPU a request), bare Fastify ${theirs.rps.toFixed(0)} req/s (${theirs.cpuUs.toFixed(1)} µs), ratio ${(mine.rps / theirs.rps).toFixed(2)}`,
      );
    }
    const list = (values: readonly number[]): string => values.map((r) => r.toFixed(2)).join(', ');
    console.log(
      `${name === 'one' ? 'one chat' : `all ${chats} chats`}: ratio ours ÷ bare ${median(ratios).toFixed(2)} (median of ${rounds}; ${list(ratios)}); ` +
        `by CPU a request, bare ÷ ours ${median(cpuRatios).toFixed(2)} (${list(cpuRatios)}); ${load()}`,
    );
  }
} finally {
  await bare.close();
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}

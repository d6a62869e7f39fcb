import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A wa-presence server running as a child process (`node --import tsx src/main.ts`). */
export interface ServerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Its base URL (http://127.0.0.1:<port>). */
  readonly url: string;
  /** Every JSON log line it printed so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the first log line (from now on, or already printed) that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal that ends the process (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A port free right now on 127.0.0.1 (the server is told it; a log line would cost a busy pipe). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a server with `env` (on top of a minimal PATH/HOME) and waits until it answers /health. */
export async function startServerProcess(id: string, env: Record<string, string>, timeoutMs = 30_000, options: { readonly built?: boolean } = {}): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // `built`: `node dist/main.js` as `npm start` runs it (after `npm run build`), without tsx's
  // loader and its source-mapped stack traces (benchmarks); tests run the sources.
  const child = spawn(process.execPath, options.built === true ? ['dist/main.js'] : ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', WA_PRESENCE_SERVER_ID: id, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let waiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (process.env.CLUSTER_TEST_LOGS !== undefined) appendFileSync(`${process.env.CLUSTER_TEST_LOGS}/${id}.log`, `${text}\n`);
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    waiters = waiters.filter((waiter) => {
      if (!waiter.match(line)) return true;
      waiter.resolve(line);
      return false;
    });
  });
  createInterface({ input: child.stderr }).on('line', (text) => {
    stderr.push(text);
    if (process.env.CLUSTER_TEST_LOGS !== undefined) appendFileSync(`${process.env.CLUSTER_TEST_LOGS}/${id}.stderr`, `${text}\n`);
  });
  child.once('exit', (code, signal) => {
    if (process.env.CLUSTER_TEST_LOGS !== undefined) appendFileSync(`${process.env.CLUSTER_TEST_LOGS}/${id}.stderr`, `exit ${code} ${signal}\n`);
  });

  const waitForLog = (match: (line: Record<string, unknown>) => boolean, ms = 15_000): Promise<Record<string, unknown>> => {
    const seen = logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server ${id}: no matching log line within ${ms} ms; last lines: ${logs.slice(-5).map((line) => JSON.stringify(line)).join('\n')}; stderr: ${stderr.join('\n')}`)), ms);
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server ${id} exited at start: ${stderr.join('\n')}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // Not listening yet: ask again.
    }
    if (Date.now() > deadline) throw new Error(`server ${id} did not answer /health within ${timeoutMs} ms; stderr: ${stderr.join('\n')}`);
    await delay(200);
  }
  return {
    id,
    child,
    url,
    logs,
    waitForLog,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ReceiverDouble } from './receiver-double.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const KEY = 'crash-server-key';
const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

interface Server {
  process: ChildProcess;
  base: string;
  exited: Promise<NodeJS.Signals | number | null>;
}

/** The real server (src/main.ts) with its embedded sandbox; resolves once it listens. */
async function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  teardown.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  if (child.stdout === null) throw new Error('server has no stdout');
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exited.then((how) => reject(new Error(`server exited (${String(how)}) before listening`)));
  });
  return { process: child, base, exited };
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
  return text === '' ? null : (JSON.parse(text) as unknown);
}

describe('the real server killed with webhook deliveries pending', () => {
  it('delivers every accepted event id after SIGKILL and a restart on the same data dir', async () => {
    const receiver = new ReceiverDouble();
    await receiver.start();
    teardown.push(() => receiver.stop());
    await receiver.stop();
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-crash-server-'));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = {
      WA_PRESENCE_DATA_DIR: dataDir,
      WHATSAPP_API_PORT: '0',
      WHATSAPP_API_HOSTNAME: '127.0.0.1',
      WHATSAPP_API_KEY: KEY,
      WA_PRESENCE_SANDBOX: 'true',
      WHATSAPP_HOOK_URL: receiver.url,
      WHATSAPP_HOOK_RETRIES_POLICY: 'constant',
      WHATSAPP_HOOK_RETRIES_DELAY_SECONDS: '0',
      WHATSAPP_HOOK_RETRIES_ATTEMPTS: '100',
      WAHA_LOG_LEVEL: 'info',
    };

    const first = await startServer(env);
    await api(first.base, 'POST', '/api/sessions', { name: 'default', start: true });
    // Session status events (STARTING, SCAN_QR_CODE, WORKING …) are accepted into the outbox while
    // the receiver is down: they show as pending deliveries.
    let pending: { eventId: string; event: string }[] = [];
    while (!pending.some((d) => d.event === 'session.status') || pending.length < 2) {
      pending = (await api(first.base, 'GET', '/api/default/webhooks/deliveries?status=pending')) as typeof pending;
      if (pending.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const accepted = pending.map((d) => d.eventId);
    first.process.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(receiver.requests).toEqual([]);

    await receiver.start();
    await startServer(env);
    await receiver.waitFor(() => accepted.every((id) => receiver.deliveredIds().includes(id)));
    expect(receiver.deliveredIds()).toEqual(expect.arrayContaining(accepted));
  }, 120_000);
});

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ReceiverDouble } from './receiver-double.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/outbox-child.ts', import.meta.url));
const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

interface Child {
  process: ChildProcess;
  /** Resolves with the next line the child prints that satisfies `predicate`. */
  line(predicate: (line: string) => boolean): Promise<string>;
  exited: Promise<NodeJS.Signals | number | null>;
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  teardown.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const seen: string[] = [];
  const waiters: { predicate: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  if (child.stdout === null) throw new Error('child has no stdout');
  createInterface({ input: child.stdout }).on('line', (line) => {
    seen.push(line);
    for (const w of [...waiters]) {
      if (w.predicate(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    process: child,
    exited,
    line: (predicate) => {
      const found = seen.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

describe('a server killed with deliveries pending', () => {
  it('delivers every accepted event at least once after SIGKILL and restart', async () => {
    const receiver = new ReceiverDouble();
    await receiver.start();
    teardown.push(() => receiver.stop());
    // Down while events are accepted; its port is kept for when it comes back.
    await receiver.stop();
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-crash-'));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = {
      WA_PRESENCE_DATA_DIR: dataDir,
      WHATSAPP_HOOK_URL: receiver.url,
      WHATSAPP_HOOK_HMAC_KEY: 'crash-key',
      WHATSAPP_HOOK_RETRIES_POLICY: 'constant',
      WHATSAPP_HOOK_RETRIES_DELAY_SECONDS: '0',
      WHATSAPP_HOOK_RETRIES_ATTEMPTS: '100',
      WA_PRESENCE_SERVER_ID: 'crash-test',
    };

    const first = startChild(env);
    await first.line((l) => l === 'ready');
    first.process.stdin?.write('publish 60\n');
    const accepted: string[] = [];
    for (let i = 0; i < 60; i += 1) {
      const line = await first.line((l) => l.startsWith('accepted ') && !accepted.includes(l.slice(9)));
      accepted.push(line.slice(9));
    }
    first.process.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    expect(receiver.requests).toEqual([]);

    await receiver.start();
    const second = startChild(env);
    await second.line((l) => l === 'ready');
    await receiver.waitFor(() => accepted.every((id) => receiver.deliveredIds().includes(id)));
    expect(new Set(receiver.deliveredIds())).toEqual(new Set(accepted));
  });
});

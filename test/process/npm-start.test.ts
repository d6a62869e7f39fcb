import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * `npm start`, as the README gives it, stopped the way a process manager stops it: SIGTERM to the
 * npm process. The signal has to reach the server, which then frees its port and exits; nothing of
 * the process tree may be left behind (a `sh -c "build && node …"` script used to leave node
 * running as an orphan holding the port and the database).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Every live descendant of `pid`, read from /proc (Linux). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // The process ended while we listed /proc: it is no one's descendant any more.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [child, ppid] of parents) if (ppid === parent) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portAccepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('npm start', () => {
  it('stops on SIGTERM to the npm process: the port is freed and no process of the tree is left', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-npm-start-'));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, WHATSAPP_API_PORT: String(port), WA_PRESENCE_DATA_DIR: dataDir, WHATSAPP_API_KEY: 'npm-start-key' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    let tree: number[] = [];
    teardown.push(async () => {
      for (const pid of [...tree, npm.pid ?? 0]) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
    });
    if (npm.stdout === null || npm.pid === undefined) throw new Error('npm did not start');
    const lines = createInterface({ input: npm.stdout });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.includes(`Server listening at http://127.0.0.1:${port}`)) resolve();
      });
      void exited.then(() => reject(new Error('npm start exited before the server listened')));
    });
    tree = await descendants(npm.pid);
    expect(tree.length).toBeGreaterThan(0);
    expect(await portAccepts(port)).toBe(true);

    npm.kill('SIGTERM');
    await exited;
    // The server shuts down cleanly (engines, outbox, database) before it exits: give it a moment.
    const deadline = Date.now() + 15_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(tree.filter(alive)).toEqual([]);
    expect(await portAccepts(port)).toBe(false);
  }, 180_000);
});

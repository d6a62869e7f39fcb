import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Lease } from '../leases.js';
import type { LeaseRenewer } from '../cluster.js';

/** What the renewer thread is started with. */
export interface RenewerData {
  readonly url: string;
  readonly schema: string;
  readonly owner: string;
  readonly ttlMs: number;
  /** Time between two renewals of the thread's own. */
  readonly periodMs: number;
  /** The thread renews only while the main thread pinged it within this long. */
  readonly boundMs: number;
}

export type ToRenewer = { readonly type: 'ping' } | { readonly type: 'renew'; readonly id: number } | { readonly type: 'stop' };

export type FromRenewer =
  | { readonly type: 'renewed'; readonly id: number | null; readonly leases: Lease[] }
  | { readonly type: 'failed'; readonly id: number | null; readonly message: string }
  | { readonly type: 'starved'; readonly silentMs: number }
  | { readonly type: 'stopped' };

export interface RenewerOptions {
  readonly url: string;
  readonly schema: string;
  readonly serverId: string;
  readonly ttlMs: number;
  /** The thread's renewal period and the main thread's ping period. */
  readonly periodMs: number;
  /** How long the main thread may stay silent before its leases are left to run out; 3 × TTL by default. */
  readonly boundMs?: number;
  readonly logger: Logger;
  /** Leases the thread renewed on its own (not asked): the ownership loop refreshes their expiry. */
  readonly onRenewed?: (leases: readonly Lease[]) => void;
}

export type { LeaseRenewer } from '../cluster.js';

/** In development the sources are TypeScript run by tsx, whose loader a worker thread does not inherit: register it there first. */
function workerUrl(): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./lease-renewer-worker.js', here);
  const file = new URL('./lease-renewer-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(file)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

const STOP_TIMEOUT_MS = 5_000;
/** A thread that exits sooner than this after its start counts as failing to start. */
const QUICK_EXIT_MS = 5_000;
const MAX_RESPAWN_DELAY_MS = 30_000;

export function startLeaseRenewer(options: RenewerOptions): LeaseRenewer {
  const logger = options.logger.child({ area: 'lease-renewer' });
  const data: RenewerData = {
    url: options.url,
    schema: options.schema,
    owner: options.serverId,
    ttlMs: options.ttlMs,
    periodMs: options.periodMs,
    boundMs: options.boundMs ?? 3 * options.ttlMs,
  };
  const pending = new Map<number, { resolve: (leases: Lease[]) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let closing = false;
  let stopped: (() => void) | null = null;
  let spawnedAt = 0;
  let quickExits = 0;
  let respawn: NodeJS.Timeout | null = null;
  let worker = spawn();

  function spawn(): Worker {
    // No inherited preloads (`node --import …`): the thread runs only its own code (tsx it registers
    // itself), so a preload that cannot load in a worker, or slows it, cannot cost the server its leases.
    const thread = new Worker(workerUrl(), { workerData: data, execArgv: [] });
    thread.on('message', (message: FromRenewer) => {
      switch (message.type) {
        case 'renewed':
          if (message.id === null) options.onRenewed?.(message.leases);
          else pending.get(message.id)?.resolve(message.leases);
          if (message.id !== null) pending.delete(message.id);
          return;
        case 'failed':
          if (message.id === null) logger.warn({ reason: message.message }, 'background lease renewal failed');
          else pending.get(message.id)?.reject(new Error(`lease renewal failed: ${message.message}`));
          if (message.id !== null) pending.delete(message.id);
          return;
        case 'starved':
          logger.error({ silentMs: message.silentMs, boundMs: data.boundMs }, 'main thread silent past the bound: leases are left to run out');
          return;
        case 'stopped':
          stopped?.();
          return;
      }
    });
    thread.on('error', (error) => logger.error({ err: error }, 'lease renewer thread failed'));
    thread.on('exit', (code) => {
      for (const request of pending.values()) request.reject(new Error(`lease renewer thread exited (code ${code})`));
      pending.clear();
      stopped?.();
      // Without it every lease would run out: start another, unless this is the shutdown; one that
      // keeps exiting at once (it cannot load, say) is restarted less and less often.
      if (!closing) {
        quickExits = Date.now() - spawnedAt < QUICK_EXIT_MS ? quickExits + 1 : 0;
        const delayMs = quickExits === 0 ? 0 : Math.min(MAX_RESPAWN_DELAY_MS, 250 * 2 ** quickExits);
        logger.error({ code, restartInMs: delayMs }, 'lease renewer thread exited; starting another');
        respawn = setTimeout(() => {
          respawn = null;
          if (!closing) worker = spawn();
        }, delayMs);
      }
    });
    spawnedAt = Date.now();
    return thread;
  }

  const ping = setInterval(() => worker.postMessage({ type: 'ping' } satisfies ToRenewer), data.periodMs);
  ping.unref();

  return {
    renew(owner, ttlMs) {
      if (owner !== data.owner || ttlMs !== data.ttlMs) {
        return Promise.reject(new Error(`this renewer renews ${data.owner}'s leases by ${data.ttlMs} ms, not ${owner}'s by ${ttlMs} ms`));
      }
      if (closing) return Promise.reject(new Error('the lease renewer is closed'));
      const id = nextId++;
      return new Promise<Lease[]>((resolve, reject) => {
        // Whatever happens in the thread, the heartbeat gets an answer within the TTL, so that it can
        // stop the engines of leases it may have lost instead of waiting forever.
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`lease renewal not answered within ${data.ttlMs} ms`));
        }, data.ttlMs);
        timer.unref();
        pending.set(id, {
          resolve: (leases) => {
            clearTimeout(timer);
            resolve(leases);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        worker.postMessage({ type: 'renew', id } satisfies ToRenewer);
      });
    },

    async close() {
      if (closing) return;
      closing = true;
      clearInterval(ping);
      if (respawn !== null) clearTimeout(respawn);
      const done = new Promise<void>((resolve) => (stopped = resolve));
      worker.postMessage({ type: 'stop' } satisfies ToRenewer);
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
      await Promise.race([done, timeout]);
      await worker.terminate();
    },
  };
}

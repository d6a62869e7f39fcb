import { systemClock } from '../../clock.js';
import { parentPort, workerData } from 'node:worker_threads';
import { createPool } from './database.js';
import { createPostgresLeaseStore } from './leases.js';
import type { FromRenewer, RenewerData, ToRenewer } from './lease-renewer.js';

/**
 * The lease renewer thread (see lease-renewer.ts): renews this server's leases on a connection of its
 * own, at a fixed rate, whatever the main thread is doing, but only while the main thread keeps
 * pinging: a main thread silent for longer than `boundMs` is hung, and its leases must run out.
 */
const port = parentPort;
if (port === null) throw new Error('lease-renewer-worker.ts runs as a worker thread only');
const data = workerData as RenewerData;
// A renewal answered after the TTL is worth nothing: fail it then, so the heartbeat can act.
const pool = createPool({ url: data.url, schema: data.schema, max: 1, queryTimeoutMs: data.ttlMs });
const leases = createPostgresLeaseStore(pool, systemClock);
let lastPing = Date.now();
let starved = false;
let chain: Promise<void> = Promise.resolve();

function post(message: FromRenewer): void {
  port?.postMessage(message);
}

/** Renewals run one at a time, in order: a requested one waits for a periodic one in progress. */
function renew(id: number | null): void {
  chain = chain.then(async () => {
    try {
      post({ type: 'renewed', id, leases: await leases.renew(data.owner, data.ttlMs) });
    } catch (error) {
      post({ type: 'failed', id, message: error instanceof Error ? error.message : String(error) });
    }
  });
}

const timer = setInterval(() => {
  const silentMs = Date.now() - lastPing;
  if (silentMs > data.boundMs) {
    if (!starved) post({ type: 'starved', silentMs });
    starved = true;
    return;
  }
  starved = false;
  renew(null);
}, data.periodMs);

port.on('message', (message: ToRenewer) => {
  switch (message.type) {
    case 'ping':
      lastPing = Date.now();
      return;
    case 'renew':
      lastPing = Date.now();
      renew(message.id);
      return;
    case 'stop':
      clearInterval(timer);
      void chain
        .then(() => pool.end())
        .catch(() => undefined)
        .finally(() => post({ type: 'stopped' }));
      return;
  }
});

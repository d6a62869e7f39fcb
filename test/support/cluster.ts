import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { onTestFinished } from 'vitest';
import type { Cluster } from '../../src/cluster/index.js';
import { loadConfig } from '../../src/config.js';
import { createServer } from '../../src/server.js';
import type { Server } from '../../src/server.js';
import { openPostgresStorage } from '../../src/storage/postgres/open.js';
import type { Storage } from '../../src/storage/index.js';
import { FakeEngineFactory } from './fake-engine.js';
import { silentLogger } from './harness.js';
import { TEST_DATABASE_URL } from './postgres.js';
import { RecordingPublisher } from './recording-publisher.js';

/** Kept under its old name for the cluster tests. */
export const CLUSTER_DATABASE_URL = TEST_DATABASE_URL;
const API_KEY = 'cluster-key';

/** A fresh PostgreSQL schema for one test's servers, dropped when the test ends (after the servers stopped). */
export function clusterSchema(): string {
  const schema = `cluster_${randomBytes(6).toString('hex')}`;
  onTestFinished(async () => {
    const client = new pg.Client({ connectionString: CLUSTER_DATABASE_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  });
  return schema;
}

/** One server of an in-process cluster: `createServer` over PostgreSQL, as src/main.ts runs it, with fake engines. */
export interface ClusterMember {
  readonly id: string;
  readonly url: string;
  readonly app: Server;
  readonly cluster: Cluster;
  readonly storage: Storage;
  readonly engines: FakeEngineFactory;
  /** An authenticated HTTP request to this server (over the network, so forwarding applies). */
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** SIGTERM's path: stop the heartbeat, close the server (engines stop), release the leases, close the storage. */
  stop(): Promise<void>;
}

export interface MemberOptions {
  readonly leaseTtlMs?: number;
  readonly heartbeatMs?: number;
  readonly maxSessions?: number;
  /** WA_PRESENCE_REBALANCE (default true). */
  readonly rebalance?: boolean;
  /** See `ClusterOptions.stallBoundMs`. */
  readonly stallBoundMs?: number;
}

export async function startMember(schema: string, id: string, options: MemberOptions = {}): Promise<ClusterMember> {
  const config = loadConfig(
    {
      WHATSAPP_API_KEY: API_KEY,
      WA_PRESENCE_DATABASE_URL: CLUSTER_DATABASE_URL,
      WA_PRESENCE_DATABASE_SCHEMA: schema,
      WA_PRESENCE_SERVER_ID: id,
      WA_PRESENCE_LEASE_TTL_MS: String(options.leaseTtlMs ?? 3000),
      ...(options.maxSessions === undefined ? {} : { WA_PRESENCE_MAX_SESSIONS: String(options.maxSessions) }),
      ...(options.rebalance === undefined ? {} : { WA_PRESENCE_REBALANCE: String(options.rebalance) }),
    },
    [],
  );
  const storage = await openPostgresStorage({ url: CLUSTER_DATABASE_URL, schema, poolSize: 4 });
  const engines = new FakeEngineFactory();
  const app = await createServer(config, {
    storage,
    engines,
    publisher: new RecordingPublisher(),
    logger: silentLogger,
    listen: { host: '127.0.0.1', port: 0 },
    cluster: {
      forwardTimeoutMs: 5000,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.stallBoundMs === undefined ? {} : { stallBoundMs: options.stallBoundMs }),
    },
  });
  const cluster = app.cluster;
  if (cluster === null) throw new Error('a PostgreSQL config builds a cluster');
  const url = await app.start();

  let stopped = false;
  const member: ClusterMember = {
    id,
    url,
    app,
    cluster,
    storage,
    engines,
    async request<T>(method: string, path: string, body?: unknown) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      await storage.close();
    },
  };
  onTestFinished(() => member.stop());
  return member;
}

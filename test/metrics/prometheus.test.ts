import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../cluster/server-process.js';
import type { ServerProcess } from '../cluster/server-process.js';
import { ReceiverDouble } from '../events/receiver-double.js';
import { poll } from '../support/poll.js';

/**
 * Issue 16 end to end: a real server process in sandbox mode, scraped by a real Prometheus
 * (Debian's package) with the API key as a Bearer token; a sandbox contact's presence change shows
 * in Prometheus' query API as presence and delivery counters. Then readiness through SIGTERM.
 */

const KEY = 'metrics-e2e-key';
const CONTACT = '4915550016001';
const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0 && spawnSync('promtool', ['--version']).status === 0;

let dir: string;
let receiver: ReceiverDouble;
let server: ServerProcess;
let prometheus: ChildProcess | null = null;
let promUrl: string;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

async function until<T>(what: string, probe: () => Promise<T | null>, ms = 30_000): Promise<T> {
  const value = await poll(() => probe().catch(() => null), (found) => found !== null, { what, timeoutMs: ms, everyMs: 200 });
  if (value === null) throw new Error(`${what}: no value`);
  return value;
}

/** The value of an instant query summed over its series, or null while Prometheus has none. */
async function query(expr: string): Promise<number | null> {
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; data: { result: { value: [number, string] }[] } };
  if (body.status !== 'success' || body.data.result.length === 0) return null;
  return body.data.result.reduce((sum, series) => sum + Number(series.value[1]), 0);
}

describe.skipIf(!hasPrometheus)('Prometheus scrapes a sandbox server', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-metrics-'));
    receiver = new ReceiverDouble();
    await receiver.start();
    server = await startServerProcess('metrics-e2e', {
      WA_PRESENCE_SANDBOX: 'true',
      WHATSAPP_API_KEY: KEY,
      WA_PRESENCE_DATA_DIR: join(dir, 'data'),
      WHATSAPP_HOOK_URL: receiver.url,
      WHATSAPP_HOOK_EVENTS: 'presence.update',
      WA_PRESENCE_SHUTDOWN_DRAIN_MS: '3000',
    });
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    await server?.kill('SIGKILL');
    await receiver?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('is ready once started, and says each check', async () => {
    const ready = await until('ready', async () => {
      const response = await fetch(`${server.url}/health/ready`);
      return response.status === 200 ? ((await response.json())) : null;
    });
    expect(ready).toEqual({ status: 'ready', checks: { migrations: 'ok', storage: 'ok', started: 'ok', shutdown: 'ok' } });
    const first = server.logs.find((line) => line.msg === 'wa-presence starting');
    expect(first).toMatchObject({ version: expect.any(String) as string, storage: 'sqlite', network: 'sandbox' });
    expect(server.logs.find((line) => line.msg === 'wa-presence ready')).toMatchObject({ address: server.url, dashboard: `${server.url}/dashboard`, docs: `${server.url}/` });
  });

  it('a contact changes presence: Prometheus reports the update received and its webhook delivered', async () => {
    await api('POST', '/api/sessions', { name: 'default' });
    await until('WORKING', async () => ((await api<{ status: string }>('GET', '/api/sessions/default')).status === 'WORKING' ? true : null), 60_000);
    await api('POST', '/api/sandbox/contacts', { phone: CONTACT, name: 'Metrics' });
    await api('POST', `/api/default/presence/${CONTACT}@c.us/subscribe`);
    await api('POST', `/api/sandbox/contacts/${CONTACT}/presence`, { presence: 'online' });
    await until('webhook', () => Promise.resolve(receiver.requests.some((r) => (r.body as { event?: string } | null)?.event === 'presence.update') ? true : null));

    // The exposition itself, as Prometheus' own linter judges it (with the counters non-zero).
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const target = new URL(server.url).host;
    await writeFile(
      join(dir, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: wa-presence', '    authorization:', '      type: Bearer', `      credentials: ${KEY}`, '    static_configs:', `      - targets: ['${target}']`, ''].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });

    expect(await until('scraped', () => query('up{job="wa-presence"}'), 40_000)).toBe(1);
    expect(await until('received', () => query('wa_presence_presence_updates_received_total{kind="presence",chat="contact"}'), 20_000)).toBeGreaterThanOrEqual(1);
    expect(await until('delivered', () => query('wa_presence_webhook_deliveries_total{outcome="delivered",host="' + new URL(receiver.url).host + '"}'), 20_000)).toBeGreaterThanOrEqual(1);
    expect(await until('published', () => query('wa_presence_events_published_total{event="presence.update"}'), 20_000)).toBeGreaterThanOrEqual(1);
    expect(await until('sessions', () => query('wa_presence_sessions{status="WORKING"}'), 20_000)).toBe(1);
    expect(await until('subscribes', () => query('wa_presence_subscribes_sent_total{result="ok"}'), 20_000)).toBeGreaterThanOrEqual(1);
    expect(await until('latency', () => query('wa_presence_webhook_delivery_seconds_count'), 20_000)).toBeGreaterThanOrEqual(1);
  }, 150_000);

  it('answers 503 from SIGTERM on while it still serves, then exits cleanly', async () => {
    const exit = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    server.child.kill('SIGTERM');
    const draining = await until('503', async () => {
      const response = await fetch(`${server.url}/health/ready`);
      return response.status === 503 ? ((await response.json()) as { checks: Record<string, string>; reason: string }) : null;
    }, 3000);
    expect(draining).toMatchObject({ status: 'not_ready', reason: 'shutting down', checks: { shutdown: 'failing' } });
    // Still serving while it drains: liveness answers.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(await exit).toBe(0);
  }, 30_000);

  it('WA_PRESENCE_METRICS=false: no /metrics route, readiness as usual', async () => {
    const off = await startServerProcess('metrics-off', { WHATSAPP_API_KEY: KEY, WA_PRESENCE_DATA_DIR: join(dir, 'off'), WA_PRESENCE_METRICS: 'false' });
    try {
      expect((await fetch(`${off.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(404);
      await until('ready', async () => ((await fetch(`${off.url}/health/ready`)).status === 200 ? true : null));
      expect(off.logs.find((line) => line.msg === 'wa-presence ready')).toMatchObject({ metrics: null });
    } finally {
      await off.kill('SIGTERM');
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { createReadiness } from '../../src/metrics/readiness.js';
import { metricsHarness } from './support.js';

async function ready(h: Awaited<ReturnType<typeof metricsHarness>>): Promise<{ status: number; body: unknown }> {
  const response = await h.app.server.inject({ method: 'GET', url: '/health/ready' });
  return { status: response.statusCode, body: response.json() };
}

describe('GET /health/ready', () => {
  it('is 503 until the start finished, 200 while running, 503 from the shutdown on; open without the key', async () => {
    const readiness = createReadiness({ migrated: () => true, ping: () => Promise.resolve() });
    const h = await metricsHarness({ readiness });
    expect(await ready(h)).toEqual({
      status: 503,
      body: { status: 'not_ready', checks: { migrations: 'ok', storage: 'ok', started: 'pending', shutdown: 'ok' }, reason: 'started pending' },
    });
    readiness.markStarted();
    expect(await ready(h)).toEqual({ status: 200, body: { status: 'ready', checks: { migrations: 'ok', storage: 'ok', started: 'ok', shutdown: 'ok' } } });
    readiness.markStopping();
    expect(await ready(h)).toEqual({
      status: 503,
      body: { status: 'not_ready', checks: { migrations: 'ok', storage: 'ok', started: 'ok', shutdown: 'failing' }, reason: 'shutting down' },
    });
    // Liveness is not readiness: the process still answers.
    expect((await h.app.server.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('a storage that does not answer within the timeout, or fails, makes it 503 (without waiting for the query)', async () => {
    let answer: () => Promise<void> = () => new Promise<void>(() => undefined);
    const readiness = createReadiness({ migrated: () => true, ping: () => answer(), timeoutMs: 50 });
    readiness.markStarted();
    const h = await metricsHarness({ readiness });
    const began = Date.now();
    expect(await ready(h)).toMatchObject({ status: 503, body: { checks: { storage: 'failing' }, reason: 'storage failing' } });
    expect(Date.now() - began).toBeLessThan(2000);
    answer = () => Promise.reject(new Error('database is gone'));
    expect(await ready(h)).toMatchObject({ status: 503, body: { checks: { storage: 'failing' } } });
    answer = () => Promise.resolve();
    expect((await ready(h)).status).toBe(200);
  });

  it('several servers: a lease renewer that stopped reporting makes it 503', async () => {
    let alive = true;
    const readiness = createReadiness({ migrated: () => true, ping: () => Promise.resolve(), renewerAlive: () => alive });
    readiness.markStarted();
    const h = await metricsHarness({ readiness });
    expect(await ready(h)).toMatchObject({ status: 200, body: { checks: { leaseRenewer: 'ok' } } });
    alive = false;
    expect(await ready(h)).toMatchObject({ status: 503, body: { checks: { leaseRenewer: 'failing' }, reason: 'leaseRenewer failing' } });
  });
});

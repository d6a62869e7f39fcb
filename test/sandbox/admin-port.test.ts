import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createNowebEngineFactory } from '../../src/engines/noweb/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../src/sandbox/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { engineUnderTest } from '../engines/noweb/harness.js';

/**
 * An embedded sandbox (`adminApi: false`) serves no admin API on its own loopback port, where it
 * would be open without the API key: only the WebSocket. Its sessions still pair by themselves,
 * the engine scanning in process.
 */

const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

async function sandboxWith(adminApi: boolean | undefined): Promise<Sandbox> {
  const sandbox = await startSandbox(adminApi === undefined ? {} : { adminApi });
  teardown.push(() => sandbox.close());
  return sandbox;
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('the sandbox\'s own port', () => {
  it('serves the admin API by default (standalone, a local tool)', async () => {
    const sandbox = await sandboxWith(undefined);
    expect((await fetch(`${sandbox.adminUrl}/api/sandbox/info`)).status).toBe(200);
    expect((await post(`${sandbox.adminUrl}/api/sandbox/contacts`, { phone: '4915550000101' })).status).toBe(201);
    const unknown = await fetch(`${sandbox.adminUrl}/api/sandbox/nothing`);
    expect(await unknown.json()).toEqual({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'no route GET /api/sandbox/nothing; see GET /api/sandbox/info for the admin API' });
  });

  it('with adminApi false refuses every admin route, changes nothing, and still pairs a session in process', async () => {
    const sandbox = await sandboxWith(false);
    const info = await fetch(`${sandbox.adminUrl}/api/sandbox/info`);
    expect(info.status).toBe(404);
    expect(await info.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', message: expect.stringContaining('with the API key') as unknown });
    expect((await post(`${sandbox.adminUrl}/api/sandbox/contacts`, { phone: '4915550000102' })).status).toBe(404);
    expect((await sandbox.network.accounts()).map((account) => account.phone)).not.toContain('4915550000102');

    const factory = createNowebEngineFactory({
      network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: true, scan: (qr) => sandbox.network.scan({ qr }) },
      logger: pino({ level: 'silent' }),
    });
    const sut = engineUnderTest(factory, { session: 'embedded' });
    await sut.engine.start();
    teardown.push(() => sut.engine.stop());
    await sut.waitForStatus('WORKING');
    expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
  });
});

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNowebEngineFactory } from '../../../src/engines/noweb/index.js';
import type { EngineFactory } from '../../../src/engines/engine.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../../src/sandbox/index.js';
import type { Sandbox } from '../../../src/sandbox/index.js';
import { engineUnderTest } from './harness.js';

/**
 * A device waiting to pair keeps its connection for as long as Baileys lets its QRs live: the
 * sandbox answers Baileys' keep-alive pings (every 30 s; no answer for 35 s drops the socket, so
 * without them the connection died after ~60 s and reconnected forever). Both tests outlast that
 * minute on purpose, and run side by side to keep the file's wall time near the longer one (~95 s).
 */

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false });
});
afterAll(async () => {
  await sandbox.close();
});

function factory(testQrTimeoutMs?: number): EngineFactory {
  return createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger: pino({ level: 'silent' }),
    reconnect: { baseMs: 20, maxMs: 100 },
    ...(testQrTimeoutMs === undefined ? {} : { testQrTimeoutMs }),
  });
}

describe('NOWEB engine: a device waiting to pair past the keep-alive', () => {
  it.concurrent('ends FAILED "nobody scanned" once every QR expired, without a reconnect in between', async () => {
    // 6 refs × 11 s = 66 s: past the ~60 s at which an unanswered keep-alive dropped the socket.
    const sut = engineUnderTest(factory(11_000), { session: 'nobody-scans' });
    await sut.engine.start();
    try {
      await sut.waitForStatus('FAILED', 0, 100_000);
      expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'FAILED']);
      const failed = sut.events.find((event) => event.type === 'status' && event.status === 'FAILED');
      expect(failed).toMatchObject({ reason: expect.stringContaining('Nobody scanned the QR code') as unknown });
      expect(sut.events.filter((event) => event.type === 'qr')).toHaveLength(6);
    } finally {
      await sut.engine.stop();
    }
  }, 120_000);

  it.concurrent('links by a pairing code typed 90 s after it was requested (Baileys\' default QR timing)', async () => {
    const phone = '4915550000991';
    const sut = engineUnderTest(factory(), { session: 'late-code' });
    await sut.engine.start();
    try {
      await sut.waitForStatus('SCAN_QR_CODE');
      const code = await sut.engine.requestPairingCode(phone);
      await sandbox.network.untilCodeRequested(phone);
      // The wait is the test: a person takes their time to type the code.
      await new Promise((resolve) => setTimeout(resolve, 90_000));
      await sandbox.network.enterLinkCode({ phone, code, name: 'Late' });
      await sut.waitForStatus('WORKING', 0, 20_000);
      expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
      expect(sut.events.find((event) => event.type === 'me')).toMatchObject({ me: { id: `${phone}@c.us` } });
    } finally {
      await sut.engine.stop();
    }
  }, 130_000);
});

import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baileysLogger, isExpectedRestart } from '../../../src/engines/noweb/baileys-logger.js';
import { createNowebEngineFactory } from '../../../src/engines/noweb/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../../src/sandbox/index.js';
import type { Sandbox } from '../../../src/sandbox/index.js';
import { engineUnderTest } from './harness.js';

interface LogRecord { level: number; msg?: string; module?: string }

/** A pino logger whose records are kept, parsed, for the test to look at. */
function recordingLogger(level: string): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { logger: pino({ level }, stream), records };
}

const restart = { reasonNode: undefined, fullErrorNode: { tag: 'stream:error', attrs: { code: '515' } } };

describe('Baileys logger', () => {
  it('tells the expected 515 restart from other stream errors', () => {
    expect(isExpectedRestart(restart, 'stream errored out')).toBe(true);
    expect(isExpectedRestart({ fullErrorNode: { tag: 'stream:error', attrs: { code: '401' } } }, 'stream errored out')).toBe(false);
    expect(isExpectedRestart(restart, 'something else')).toBe(false);
    expect(isExpectedRestart('text', 'stream errored out')).toBe(false);
  });

  it('logs the 515 at debug, other errors at error, in child loggers too, and keeps Baileys at warn', async () => {
    const { logger, records } = recordingLogger('debug');
    const child = baileysLogger(logger).child({ class: 'socket' });
    child.error(restart, 'stream errored out');
    child.error({ fullErrorNode: { tag: 'stream:error', attrs: { code: '503' } } }, 'stream errored out');
    child.info({}, 'chatty');
    await new Promise((resolve) => setImmediate(resolve));
    expect(records.map((record) => [record.level, record.msg, record.module])).toEqual([
      [20, 'stream restart required after pairing (515), as expected', 'baileys'],
      [50, 'stream errored out', 'baileys'],
    ]);
  });
});

describe('Baileys logger: a real pairing against the sandbox', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ autoPair: true });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('pairs without an error log line, the 515 restart at debug', async () => {
    const { logger, records } = recordingLogger('debug');
    const factory = createNowebEngineFactory({
      network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: true },
      logger,
    });
    const sut = engineUnderTest(factory, { session: 'quiet', logger });
    await sut.engine.start();
    try {
      await sut.waitForStatus('WORKING');
      expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
    } finally {
      await sut.engine.stop();
    }
    expect(records.filter((record) => record.level >= 50)).toEqual([]);
    expect(records.some((record) => record.level === 20 && record.msg?.includes('515') === true)).toBe(true);
  });
});

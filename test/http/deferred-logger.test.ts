import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { deferringLogger } from '../../src/http/deferred-logger.js';

function capture(level: string): { logger: FastifyBaseLogger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe('deferred request logger', () => {
  it('writes lines with the bindings, including ones set before the first line', async () => {
    const { logger, lines } = capture('info');
    const child = deferringLogger(logger).child({ reqId: 'r1' }, {}) as FastifyBaseLogger & { setBindings(b: object): void };
    child.setBindings({ session: 'default' });
    child.debug('hidden');
    child.info({ extra: 1 }, 'shown');
    child.child({ deeper: true }).warn('nested');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => [l['msg'], l['reqId'], l['session']])).toEqual([
      ['shown', 'r1', 'default'],
      ['nested', 'r1', 'default'],
    ]);
    expect(lines[0]?.['extra']).toBe(1);
    expect(lines[1]?.['deeper']).toBe(true);
    expect(child.level).toBe('info');
  });

  it('follows a route level given to it', async () => {
    const { logger, lines } = capture('info');
    const child = deferringLogger(logger).child({ reqId: 'r2' }, { level: 'debug' });
    child.debug('route debug');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => l['msg'])).toEqual(['route debug']);
    expect(child.level).toBe('debug');
  });

  it('as Fastify\'s logger instance: its children are deferred, its own lines are the parent\'s', async () => {
    const { logger, lines } = capture('info');
    const deferring = deferringLogger(logger);
    const child = deferring.child({ reqId: 'r3' }) as FastifyBaseLogger & { setBindings(b: object): void; bindings(): object };
    expect(child.constructor.name).toBe('DeferredChild');
    child.setBindings({ session: 'one' });
    child.setBindings({ extra: 2 });
    expect(child.bindings()).toEqual({ reqId: 'r3', session: 'one', extra: 2 });
    deferring.info('from the server');
    child.info('from a request');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((l) => [l['msg'], l['reqId'], l['session'], l['extra']])).toEqual([
      ['from the server', undefined, undefined, undefined],
      ['from a request', 'r3', 'one', 2],
    ]);
    expect(deferring.level).toBe('info');
  });
});

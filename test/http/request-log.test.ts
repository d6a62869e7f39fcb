import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { httpHarness } from '../support/http.js';

function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('request logs', () => {
  it("carry a request id (the caller's X-Request-Id when sane, echoed) and the session of a session's route", async () => {
    const { logger, lines } = capture();
    const h = await httpHarness({}, { logger });
    await h.working('alpha');
    const traced = await h.request('GET', '/api/sessions/alpha', undefined, { 'x-request-id': 'lb-trace-42' });
    expect(traced.headers['x-request-id']).toBe('lb-trace-42');
    const line = lines.find((candidate) => candidate.msg === 'request' && candidate.reqId === 'lb-trace-42');
    expect(line).toMatchObject({ session: 'alpha', url: '/api/sessions/alpha', statusCode: 200 });

    const odd = await h.request('GET', '/api/alpha/presence', undefined, { 'x-request-id': 'bad id with spaces' });
    const generated = odd.headers['x-request-id'];
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.find((candidate) => candidate.msg === 'request' && candidate.reqId === generated)).toMatchObject({ session: 'alpha' });

    const list = await h.request('GET', '/api/sessions');
    const listLine = lines.find((candidate) => candidate.msg === 'request' && candidate.reqId === list.headers['x-request-id']);
    expect(listLine).toBeDefined();
    expect(listLine).not.toHaveProperty('session');
    // The engine's and the session layer's lines carry the session too.
    expect(lines.some((candidate) => candidate.session === 'alpha' && candidate.msg === 'session status')).toBe(true);
  });
});

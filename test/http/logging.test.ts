import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { redactingLogger, redactUrl } from '../../src/http/redact.js';
import { API_KEY, httpHarness } from '../support/http.js';

/** A pino logger at debug that keeps every line it writes, parsed. */
function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const written: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void written.push(line) });
  return { logger, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>), text: () => written.join('') };
}

/** Opens /ws on a raw socket, then writes `frames` as they are (a client must mask its frames: these do not). */
function rawWebSocket(port: number, frames: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      if (!upgraded && chunk.toString('latin1').startsWith('HTTP/1.1 101')) {
        upgraded = true;
        socket.write(frames);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => (upgraded ? resolve() : reject(new Error('the upgrade was refused'))));
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nX-Api-Key: ${API_KEY}\r\n\r\n`,
    );
  });
}

describe('logging', () => {
  it('never writes the API key: not the header, not ?x-api-key=, not any other key= in a URL (debug request log included)', async () => {
    const capture = capturingLogger();
    const h = await httpHarness({}, { logger: capture.logger });
    await h.request('GET', '/api/sessions');
    const inQuery = await h.server.inject({ method: 'GET', url: `/api/sessions?x-api-key=${API_KEY}&key=other-secret&all=true` });
    expect(inQuery.statusCode).toBe(401);
    await h.server.inject({ method: 'GET', url: `/api/no-such-route?apiKey=${API_KEY}` });
    const lines = capture.lines().filter((line) => line.msg === 'request');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.map((line) => line.url)).toContain('/api/sessions?x-api-key=[redacted]&key=[redacted]&all=true');
    expect(capture.text()).not.toContain(API_KEY);
    expect(capture.text()).not.toContain('other-secret');
  });

  it('redacts key fields and key= in URLs, two levels into a line', () => {
    const capture = capturingLogger();
    redactingLogger(capture.logger).info({ upgrade: { url: '/ws?session=*&x-api-key=abc', headers: { 'x-api-key': 'abc', host: 'h' } }, path: '/x?hmac_key=abc' }, 'line');
    const [line] = capture.lines();
    expect(line).toMatchObject({ upgrade: { url: '/ws?session=*&x-api-key=[redacted]', headers: { 'x-api-key': '[redacted]', host: 'h' } }, path: '/x?hmac_key=[redacted]' });
    // A request object (not a plain one) goes to the req serializer, which takes the key out too.
    redactingLogger(capture.logger).debug({ req: { method: 'GET', url: '/ws?x-api-key=abc', id: 'r1', raw: {} } }, 'incoming request');
    redactingLogger(capture.logger).debug({ req: Object.assign(Object.create({ kind: 'request' }) as object, { method: 'GET', url: '/a?key=abc' }) }, 'incoming request');
    expect(capture.lines()[1]).toMatchObject({ req: { method: 'GET', url: '/ws?x-api-key=[redacted]', id: 'r1' } });
    expect(capture.lines()[2]).toMatchObject({ req: { method: 'GET', url: '/a?key=[redacted]' } });
    expect(capture.text()).not.toContain('abc');
    expect(redactUrl('/a?monkey=1&b=2')).toBe('/a?monkey=[redacted]&b=2');
    expect(redactUrl('/a?b=2')).toBe('/a?b=2');
  });

  it('logs a client that sends malformed /ws frames once per connection, at warn, without a stack', async () => {
    const capture = capturingLogger();
    const h = await httpHarness({}, { logger: capture.logger });
    await h.server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.server.server.address() as AddressInfo;
    // Unmasked text frames, many of them: the server must refuse the first and log it once.
    const unmasked = Buffer.concat(Array.from({ length: 50 }, () => Buffer.from([0x81, 0x02, 0x68, 0x69])));
    await rawWebSocket(port, unmasked);
    await rawWebSocket(port, Buffer.from([0x8f, 0x80, 0, 0, 0, 0]));
    const complaints = capture.lines().filter((line) => typeof line.msg === 'string' && line.msg.includes('websocket'));
    expect(complaints).toHaveLength(2);
    for (const line of complaints) {
      expect(line.level).toBe(40);
      expect(JSON.stringify(line)).not.toMatch(/stack|\n\s+at /);
    }
    expect(capture.lines().filter((line) => Number(line.level) >= 50)).toEqual([]);
  });
});

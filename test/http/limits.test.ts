import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';

/** Sends `head` and `partialBody` on a raw socket, never the rest; resolves with what came back once the server closed it. */
function sendHalfABody(port: number, head: string, partialBody: string, giveUpMs: number): Promise<{ closed: boolean; answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const guard = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, answer, ms: Date.now() - started });
    }, giveUpMs);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ closed: true, answer, ms: Date.now() - started });
    });
    socket.write(head + partialBody);
  });
}

function deep(levels: number, leaf: unknown = 1, wrap: (inner: unknown) => unknown = (inner) => ({ a: inner })): unknown {
  let value = leaf;
  for (let level = 0; level < levels; level += 1) value = wrap(value);
  return value;
}

describe('HTTP limits', () => {
  let shared: HttpHarness;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    shared = await httpHarness({}, {}, (fn) => cleanups.push(fn));
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('closes a connection whose body never finishes (408), and one that never finishes its headers', async () => {
    const h = await httpHarness({ WA_PRESENCE_REQUEST_TIMEOUT_MS: '400' });
    await h.server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.server.server.address() as AddressInfo;
    const head = `POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    const body = await sendHalfABody(port, head, '{"name":"hal', 5_000);
    expect(body.closed).toBe(true);
    expect(body.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(body.ms).toBeLessThan(3_000);
    const headers = await sendHalfABody(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n', '', 5_000);
    expect(headers.closed).toBe(true);
    expect(headers.ms).toBeLessThan(3_000);
  });

  it('answers a body over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const payload = JSON.stringify({ name: 'big', config: { metadata: { pad: 'x'.repeat(1_100_000) } } });
    const response = await shared.server.inject({ method: 'POST', url: '/api/sessions', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, payload });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE', error: 'Payload Too Large', message: expect.stringMatching(/1048576 bytes/) as unknown });
    expect((await shared.request('GET', '/api/sessions/big')).statusCode).toBe(404);
  });

  it.each([
    ['text/plain', 'name=x'],
    ['application/x-www-form-urlencoded', 'name=x'],
    ['multipart/form-data; boundary=x', '--x\r\n\r\nname\r\n--x--'],
  ])('refuses a %s body with 415 saying to send JSON', async (type, payload) => {
    const response = await shared.server.inject({ method: 'POST', url: '/api/sessions', headers: { 'x-api-key': API_KEY, 'content-type': type }, payload });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({ statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringMatching(/Content-Type: application\/json/) as unknown });
  });

  it('refuses a body without a Content-Type with 415, saying so', async () => {
    const response = await shared.server.inject({ method: 'POST', url: '/api/sessions', headers: { 'x-api-key': API_KEY }, payload: Buffer.from('{"name":"z"}') });
    expect(response.statusCode).toBe(415);
    expect(response.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'a body without a Content-Type is not accepted: send the body as JSON with Content-Type: application/json' });
  });

  it('takes a body-less POST whatever its Content-Type says (axios: urlencoded, empty)', async () => {
    const h = await httpHarness();
    const axios = { 'x-api-key': API_KEY, 'content-type': 'application/x-www-form-urlencoded' };
    const created = await h.server.inject({ method: 'POST', url: '/api/sessions', headers: axios, payload: '' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'default' });
    for (const action of ['stop', 'start', 'restart', 'logout']) {
      const answer = await h.server.inject({ method: 'POST', url: `/api/sessions/default/${action}`, headers: axios, payload: '' });
      expect(answer.statusCode, `${action}: ${answer.body}`).toBe(201);
    }
    await h.working('w');
    const subscribed = await h.server.inject({ method: 'POST', url: '/api/w/presence/2132132130@c.us/subscribe', headers: { ...axios, 'content-type': 'text/plain' }, payload: '' });
    expect(subscribed.statusCode, subscribed.body).toBe(201);
  });

  it.each([
    [{ name: 12 }, 'name', /^name must be string$/],
    [{ name: true }, 'name', /^name must be string$/],
    [{ name: 'x', start: 'false' }, 'start', /^start must be boolean$/],
    [{ name: 'x', start: 0 }, 'start', /^start must be boolean$/],
    [{ name: 'x', config: { debug: 'true' } }, 'config.debug', /^config\.debug must be boolean$/],
    [{ name: 'x', config: { webhooks: [{ url: 'http://h', events: '*' }] } }, 'config.webhooks[0].events', /must be array/],
    [{ name: 'x', nmae: 'y' }, 'nmae', /^nmae is not a known field; remove it$/],
  ])('takes JSON values as sent: %j is a 400 naming %s', async (body, field, message) => {
    const response = await shared.request('POST', '/api/sessions', body);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field, message: expect.stringMatching(message) as unknown });
    expect((await shared.request('GET', '/api/sessions?all=true')).json()).toEqual([]);
  });

  it('still converts query strings (?all=true)', async () => {
    const h = await httpHarness();
    await h.request('POST', '/api/sessions', { name: 'off', start: false });
    expect((await h.request('GET', '/api/sessions?all=true')).json()).toMatchObject([{ name: 'off' }]);
    expect((await h.request('GET', '/api/sessions?all=false')).json()).toEqual([]);
  });

  it.each([
    ['config.webjs 4,000 levels deep', { config: { webjs: deep(4_000) } }, 'config.webjs', /nested more than 32 levels deep/],
    ['config.gows arrays 4,000 deep', { config: { gows: { x: deep(4_000, 1, (inner) => [inner]) } } }, 'config.gows', /nested more than 32 levels deep/],
    ['apps 4,000 deep', { apps: [deep(4_000)] }, 'apps', /nested more than 32 levels deep/],
    ['config.webjs of 20,000 characters', { config: { webjs: { pad: 'x'.repeat(20_000) } } }, 'config.webjs', /longer than 16384 characters as JSON/],
  ])('refuses free-form %s with a 400 that says the limits', async (_name, body, field, message) => {
    const response = await shared.request('POST', '/api/sessions', { name: 'deep', start: false, ...body });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(400);
    const answer = response.json<{ field: string; message: string }>();
    expect(answer).toMatchObject({ code: 'VALIDATION_FAILED', field });
    expect(answer.message).toMatch(message);
    expect(answer.message).toMatch(/at most 32 levels of nesting and 16384 characters as JSON/);
  });

  it('keeps a free-form value within the limits as sent', async () => {
    const h = await httpHarness();
    const webjs = deep(31, { ok: true }) as Record<string, unknown>;
    const created = await h.request('POST', '/api/sessions', { name: 'fits', start: false, config: { webjs } });
    expect(created.statusCode, created.body.slice(0, 300)).toBe(201);
    expect((await h.request('GET', '/api/sessions/fits')).json()).toMatchObject({ config: { webjs } });
  });
});

import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { API_KEY, httpHarness } from '../support/http.js';

/** Resolves with the HTTP status of a refused upgrade. */
function refusal(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    // Terminating a refused socket reports "closed before the connection was established": expected.
    socket.on('error', () => undefined);
    socket.once('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
    });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the upgrade was accepted'));
    });
  });
}

describe('GET /ws in the real app', () => {
  it('streams with the key, and refused or unknown upgrades leave no socket open (the server closes promptly)', async () => {
    const harness = await httpHarness({}, {}, () => undefined);
    const hub = harness.app.events.hub;
    await harness.server.listen({ port: 0, host: '127.0.0.1' });
    const base = `ws://127.0.0.1:${(harness.server.server.address() as AddressInfo).port}`;
    onTestFinished(() => harness.storage.close());

    expect(await refusal(`${base}/ws?session=*`)).toBe(401);
    expect(await refusal(`${base}/no-such-path?x-api-key=${API_KEY}`)).toBe(404);
    expect(await refusal(`${base}/ws/?x-api-key=${API_KEY}`)).toBe(404);
    // An upgrade anywhere else is the plain request it also is (the server may ignore Upgrade),
    // answered on a connection that is then closed.
    expect(await refusal(`${base}/api/sessions`)).toBe(401);
    expect(await refusal(`${base}/api/sessions?x-api-key=${API_KEY}`)).toBe(401);
    expect(await refusal(`${base}/api/sessions`, { 'x-api-key': API_KEY })).toBe(200);
    expect(await refusal(`${base}/health`)).toBe(200);

    const client = new WebSocket(`${base}/ws?events=session.status&x-api-key=${API_KEY}`);
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve());
      client.once('error', reject);
    });
    const message = new Promise<string>((resolve) => client.once('message', (data: Buffer) => resolve(data.toString('utf8'))));
    hub.publish('default', 'session.status', '{"event":"session.status"}');
    expect(await message).toBe('{"event":"session.status"}');
    client.close();

    const plain = await fetch(`${base.replace('ws:', 'http:')}/ws`, { headers: { 'x-api-key': API_KEY } });
    expect(plain.status).toBe(404);
    await plain.body?.cancel();

    // A leaked upgrade socket would keep close() waiting for ever (the test would time out).
    await harness.server.close();
  });
});

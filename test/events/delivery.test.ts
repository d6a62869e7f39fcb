import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { deliver, signBody } from '../../src/events/delivery.js';
import type { WebhookTarget } from '../../src/events/webhooks.js';
import { ReceiverDouble } from './receiver-double.js';

const receivers: ReceiverDouble[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

async function receiver(): Promise<ReceiverDouble> {
  const r = new ReceiverDouble();
  receivers.push(r);
  await r.start();
  return r;
}

function target(url: string, extra: Partial<WebhookTarget> = {}): WebhookTarget {
  return { url, hmacKey: null, customHeaders: [], retries: null, ...extra };
}

// Non-ASCII and escaped characters: the signature must cover the exact UTF-8 bytes sent.
const body = JSON.stringify({ id: 'evt_1', event: 'presence.update', payload: { name: 'Zoë 🙂', note: 'a\\"b' } });

describe('deliver', () => {
  it('signs the exact body bytes with HMAC-SHA512, verified by recomputing at the receiver', async () => {
    const r = await receiver();
    const result = await deliver(target(r.url, { hmacKey: 's3cret' }), body, { timeoutMs: 5000, now: () => 1_700_000_000_000, requestId: () => 'req-1' });
    expect(result).toEqual({ ok: true, status: 200 });
    const got = r.requests[0];
    expect(got).toBeDefined();
    if (got === undefined) return;
    const recomputed = createHmac('sha512', 's3cret').update(got.raw).digest('hex');
    expect(got.headers['x-webhook-hmac']).toBe(recomputed);
    expect(got.headers['x-webhook-hmac-algorithm']).toBe('sha512');
    expect(got.raw.toString('utf8')).toBe(body);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-webhook-request-id']).toBe('req-1');
    expect(got.headers['x-webhook-timestamp']).toBe('1700000000000');
    // A wrong key does not verify: the check above can fail.
    expect(createHmac('sha512', 'other').update(got.raw).digest('hex')).not.toBe(recomputed);
  });

  it('sends no signature headers without a key, and adds custom headers without letting them override ours', async () => {
    const r = await receiver();
    const customHeaders = [{ name: 'X-Tenant', value: 'acme' }, { name: 'Content-Type', value: 'text/plain' }];
    await deliver(target(r.url, { customHeaders }), body, { timeoutMs: 5000, now: Date.now });
    const got = r.requests[0];
    expect(got?.headers['x-webhook-hmac']).toBeUndefined();
    expect(got?.headers['x-webhook-hmac-algorithm']).toBeUndefined();
    expect(got?.headers['x-tenant']).toBe('acme');
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers['x-webhook-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('classifies statuses and Retry-After', async () => {
    const r = await receiver();
    r.responder = () => ({ status: 429, headers: { 'retry-after': '3' } });
    expect(await deliver(target(r.url), body, { timeoutMs: 5000, now: Date.now })).toEqual({
      ok: false,
      failure: { kind: 'status', status: 429, retryAfterMs: 3000 },
    });
    r.responder = () => 410;
    expect(await deliver(target(r.url), body, { timeoutMs: 5000, now: Date.now })).toEqual({
      ok: false,
      failure: { kind: 'status', status: 410, retryAfterMs: null },
    });
  });

  it('reports a receiver that is down as a network error', async () => {
    const r = await receiver();
    await r.stop();
    const result = await deliver(target(r.url), body, { timeoutMs: 5000, now: Date.now });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.failure.kind).toBe('network');
    expect(!result.ok && result.failure.kind === 'network' && result.failure.message).toMatch(/ECONNREFUSED/);
  });

  it('gives up on a receiver that never answers after the timeout', async () => {
    const hanging = createServer(() => {
      // Never answers: the delivery must time out on its own.
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hanging.address() as AddressInfo).port;
      const result = await deliver(target(`http://127.0.0.1:${port}/`), body, { timeoutMs: 150, now: Date.now });
      expect(result).toEqual({ ok: false, failure: { kind: 'timeout', message: 'no answer within 150 ms' } });
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });

  it('signBody is hex SHA-512 (128 hex characters)', () => {
    expect(signBody('k', '{}')).toMatch(/^[0-9a-f]{128}$/);
  });

  it('does not depend on the global dispatcher, which Node\'s own fetch may have installed with an older handler API', async () => {
    // A test double of Node 20's bundled undici 6 Agent: it accepts only handlers with onConnect
    // and onError, and throws "invalid onError method" for the handler API deliver uses.
    class OlderHandlerApiDouble extends Dispatcher {
      override dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        if (typeof (handler as { onError?: unknown }).onError !== 'function') throw new Error('invalid onError method');
        throw new Error('the double only refuses');
      }
    }
    const r = await receiver();
    const previous = getGlobalDispatcher();
    setGlobalDispatcher(new OlderHandlerApiDouble());
    try {
      const result = await deliver(target(r.url), body, { timeoutMs: 5000, now: () => Date.now() });
      expect(result).toEqual({ ok: true, status: 200 });
      expect(r.requests).toHaveLength(1);
    } finally {
      setGlobalDispatcher(previous);
    }
  });
});

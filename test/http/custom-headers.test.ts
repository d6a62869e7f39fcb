import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { customHeaderProblem, customHeadersProblem } from '../../src/presence/webhook-headers.js';
import { httpHarness } from '../support/http.js';

const webhook = (customHeaders: unknown) => ({ url: 'https://example.com/hook', events: ['*'], customHeaders });

describe('webhook customHeaders', () => {
  it.each([
    [{ name: 'X-Ok', value: 'a\r\nX-Injected: 1' }, /control character/],
    [{ name: 'X-Ok', value: 'line\nbreak' }, /control character/],
    [{ name: 'X-Ok', value: 'nul\u0000' }, /control character/],
    [{ name: 'Bad Name', value: '1' }, /is not an HTTP header name/],
    [{ name: 'X-\r\nA', value: '1' }, /is not an HTTP header name/],
    [{ name: 'Host', value: 'evil.example' }, /set by the delivery itself/],
    [{ name: 'content-length', value: '0' }, /set by the delivery itself/],
    [{ name: 'Transfer-Encoding', value: 'chunked' }, /set by the delivery itself/],
    [{ name: 'Connection', value: 'close' }, /set by the delivery itself/],
    [{ name: 'Content-Type', value: 'text/plain' }, /set by the delivery itself/],
    [{ name: 'X-Webhook-Hmac', value: 'forged' }, /set by the delivery itself/],
    [{ name: 'x-webhook-anything', value: '1' }, /set by the delivery itself/],
  ])('refuses %j when a session is created, with a 400 naming the header', async (header, problem) => {
    const h = await httpHarness();
    const response = await h.request('POST', '/api/sessions', { name: 'w', config: { webhooks: [webhook([{ name: 'X-Fine', value: 'yes' }, header])] } });
    expect(response.statusCode, response.body).toBe(400);
    const body = response.json<{ code: string; field: string; message: string }>();
    expect(body).toMatchObject({ code: 'VALIDATION_FAILED', field: 'config.webhooks[0].customHeaders[1]' });
    expect(body.message).toMatch(problem);
    expect(body.message).toContain(JSON.stringify(header.name).slice(1, 4));
    expect((await h.request('GET', '/api/sessions/w')).statusCode).toBe(404);
  });

  it('refuses the same header twice, and an update with a bad header leaves the config as it was', async () => {
    const h = await httpHarness();
    const twice = await h.request('POST', '/api/sessions', { name: 'w', start: false, config: { webhooks: [webhook([{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }])] } });
    expect(twice.statusCode).toBe(400);
    expect(twice.json()).toMatchObject({ field: 'config.webhooks[0].customHeaders[1]', message: expect.stringMatching(/given twice/) as unknown });
    const good = { webhooks: [webhook([{ name: 'Authorization', value: 'Bearer t' }, { name: 'X-Tenant', value: 'a b\tc' }])] };
    expect((await h.request('POST', '/api/sessions', { name: 'w', start: false, config: good })).statusCode).toBe(201);
    const update = await h.request('PUT', '/api/sessions/w', { config: { webhooks: [webhook([{ name: 'Host', value: 'x' }])] } });
    expect(update.statusCode).toBe(400);
    expect((await h.request('GET', '/api/sessions/w')).json()).toMatchObject({ config: good });
  });

  it('stops the server on a bad WHATSAPP_HOOK_CUSTOM_HEADERS, naming the variable and the header', () => {
    const env = { WHATSAPP_HOOK_URL: 'https://example.com/hook' };
    expect(() => loadConfig({ ...env, WHATSAPP_HOOK_CUSTOM_HEADERS: 'X-A:1;Host:evil' }, [])).toThrow(/WHATSAPP_HOOK_CUSTOM_HEADERS: header 2 "Host" is set by the delivery itself/);
    expect(() => loadConfig({ ...env, WHATSAPP_HOOK_CUSTOM_HEADERS: 'X-Webhook-Timestamp:1' }, [])).toThrow(/WHATSAPP_HOOK_CUSTOM_HEADERS: header 1/);
    expect(() => loadConfig({ ...env, WHATSAPP_HOOK_CUSTOM_HEADERS: 'X-A:a\u0000b' }, [])).toThrow(/WHATSAPP_HOOK_CUSTOM_HEADERS: header 1 value of "X-A" holds a control character/);
    expect(() => loadConfig({ ...env, WHATSAPP_HOOK_CUSTOM_HEADERS: 'Bad Name:1' }, [])).toThrow(/WHATSAPP_HOOK_CUSTOM_HEADERS: header 1 name "Bad Name"/);
    expect(loadConfig({ ...env, WHATSAPP_HOOK_CUSTOM_HEADERS: 'X-A:1;Authorization:Bearer t' }, []).hook?.customHeaders).toEqual([
      { name: 'X-A', value: '1' },
      { name: 'Authorization', value: 'Bearer t' },
    ]);
  });

  it('accepts what a receiver can be sent', () => {
    expect(customHeaderProblem({ name: 'X-Api-Key', value: 'k' })).toBeNull();
    expect(customHeaderProblem({ name: 'x', value: '' })).toBeNull();
    expect(customHeadersProblem([{ name: 'A', value: '1' }, { name: 'B', value: '2' }])).toBeNull();
    expect(customHeaderProblem({ name: 'X-Long', value: 'v'.repeat(5_000) })).toMatch(/longer than 4096/);
  });
});

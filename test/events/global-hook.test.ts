import { describe, expect, it } from 'vitest';
import type { GlobalHookConfig } from '../../src/config.js';
import { targetOfGlobalHook, targetOfWebhook, webhookWants } from '../../src/events/webhooks.js';

const hook: GlobalHookConfig = {
  url: 'http://127.0.0.1:9/global',
  events: ['session.status'],
  hmacKey: 'k',
  retries: { policy: 'linear', delaySeconds: 3, attempts: 4 },
  customHeaders: [{ name: 'X-From', value: 'env' }],
};

describe('the global hook (WHATSAPP_HOOK_*)', () => {
  it('is a delivery target read from the config as it is', () => {
    expect(targetOfGlobalHook(hook)).toEqual({ url: hook.url, hmacKey: 'k', customHeaders: hook.customHeaders, retries: hook.retries });
  });

  it('serialises like a session webhook to the same place with the same settings, so one listed as both gets one copy', () => {
    const same = targetOfWebhook({ url: hook.url, events: ['*'], hmac: { key: 'k' }, retries: hook.retries, customHeaders: hook.customHeaders });
    expect(JSON.stringify(targetOfGlobalHook(hook))).toBe(JSON.stringify(same));
  });

  it('filters by its own events', () => {
    expect(webhookWants(hook, 'session.status')).toBe(true);
    expect(webhookWants(hook, 'presence.update')).toBe(false);
  });
});

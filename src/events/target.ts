import { RETRY_POLICIES } from '../presence/sessions.js';
import type { WebhookTarget } from './webhooks.js';

/**
 * Reads a target stored with a delivery (`JSON.stringify(WebhookTarget)`), checking every field:
 * a row written by an older version or edited by hand fails here with a message, not later with
 * a TypeError in the middle of a send.
 */
export function parseTarget(text: string): WebhookTarget {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new Error('stored webhook target is not JSON', { cause });
  }
  if (typeof value !== 'object' || value === null) throw new Error('stored webhook target is not an object');
  const v = value as Record<string, unknown>;
  if (typeof v.url !== 'string') throw new Error('stored webhook target has no url');
  if (v.hmacKey !== null && typeof v.hmacKey !== 'string') throw new Error('stored webhook target has a bad hmacKey');
  if (!Array.isArray(v.customHeaders)) throw new Error('stored webhook target has no customHeaders list');
  const customHeaders = v.customHeaders.map((header: unknown) => {
    const h = header as Record<string, unknown> | null;
    if (h === null || typeof h !== 'object' || typeof h.name !== 'string' || typeof h.value !== 'string') {
      throw new Error('stored webhook target has a bad custom header');
    }
    return { name: h.name, value: h.value };
  });
  let retries: WebhookTarget['retries'] = null;
  if (v.retries !== null && v.retries !== undefined) {
    const r = v.retries as Record<string, unknown>;
    const policy = RETRY_POLICIES.find((name) => name === r.policy);
    if (policy === undefined || typeof r.delaySeconds !== 'number' || typeof r.attempts !== 'number') {
      throw new Error('stored webhook target has bad retries');
    }
    retries = { policy, delaySeconds: r.delaySeconds, attempts: r.attempts };
  }
  return { url: v.url, hmacKey: v.hmacKey, customHeaders, retries };
}

import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { SERVER_VERSION } from '../../src/events/envelope.js';
import { wahaEnvironment } from '../../src/events/environment.js';
import { httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';
import { resolve, waha, wahaErrors, webhookSchema } from './waha-document.js';
import type { Schema } from './waha-document.js';

interface OurDocument {
  readonly webhooks?: Record<string, { post: { requestBody: { content: Record<string, { schema: { $ref?: string } }> } } }>;
  readonly components: { readonly schemas: Record<string, Schema> };
}

async function ourDocument(h: HttpHarness): Promise<OurDocument> {
  return (await h.request('GET', '/openapi.json')).json<OurDocument>();
}

/** Our document's schema for a webhook event, compiled with its components (as a generated client reads it). */
function ourValidator(doc: OurDocument, event: string): (value: unknown) => string[] {
  const ref = doc.webhooks?.[event]?.post.requestBody.content['application/json']?.schema.$ref;
  if (ref === undefined) throw new Error(`our document has no webhook ${event}`);
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'ours', components: doc.components });
  const validate = ajv.compile({ $ref: ref.replace('#/', 'ours#/') });
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath}: ${error.message ?? ''}`));
}

/** The schema names WAHA's webhook envelope refers to, and those they refer to (MeInfo, WAHAEnvironment, the payload's). */
const EVENT_SCHEMAS = ['WAHAWebhookSessionStatus', 'WASessionStatusBody', 'SessionStatusPoint', 'WAHAWebhookPresenceUpdate', 'WAHAChatPresences', 'WAHAPresenceData', 'WAHAEnvironment', 'MeInfo'];

function requiredOf(schema: Schema): string[] {
  const required = resolve(schema)['required'];
  return Array.isArray(required) ? required.filter((name): name is string => typeof name === 'string').sort() : [];
}

/**
 * Issue 12: the webhook envelope and the `presence.update` / `session.status` payloads, as the
 * server publishes them, against WAHA's webhook schemas (its document's `webhooks`). Nothing is
 * pending: every field WAHA requires is there with WAHA's type (our extras, `reason`, ride along).
 */
/** ajv's errors without their params: the path and what is wrong. */
function gaps(schema: Parameters<typeof wahaErrors>[0], value: unknown): string[] {
  return wahaErrors(schema, value).map((line) => line.replace(/ \{.*\}$/, '')).sort();
}

describe("the events WAHA's webhook receivers get", () => {
  it.each(['session.status', 'presence.update'] as const)("%s: the envelope and payload have WAHA's required fields", async (event) => {
    const h = await httpHarness();
    const engine = await h.working('ev');
    engine.presence('111@c.us', [{ participant: '111@c.us', lastKnownPresence: 'online', lastSeen: 1_700_000_000 }]);
    await h.sessions.settled('ev');
    const envelopes = h.publisher.envelopes(event, 'ev');
    expect(envelopes.length).toBeGreaterThan(0);
    for (const envelope of envelopes) {
      expect(gaps(webhookSchema(event), JSON.parse(JSON.stringify(envelope)))).toEqual([]);
    }
  });

  it("our OpenAPI document publishes each event as WAHA's does: a `webhooks` entry and WAHA's named schemas, with WAHA's required fields", async () => {
    const h = await httpHarness();
    const doc = await ourDocument(h);
    expect(Object.keys(doc.webhooks ?? {}).sort()).toEqual(['presence.update', 'session.status']);
    for (const event of ['presence.update', 'session.status'] as const) {
      expect(doc.webhooks?.[event]?.post.requestBody.content['application/json']?.schema.$ref).toBe(waha.webhooks[event]?.post.requestBody.content['application/json']?.schema['$ref']);
    }
    for (const name of EVENT_SCHEMAS) {
      const ours = doc.components.schemas[name];
      const theirs = waha.components.schemas[name];
      expect(ours, `${name} missing from our document`).toBeDefined();
      if (ours === undefined || theirs === undefined) continue;
      // Every field WAHA requires, we require (we may require more: we always send them).
      const ourRequired = new Set(requiredOf(ours));
      expect(requiredOf(theirs).filter((field) => !ourRequired.has(field)), `${name}: WAHA requires, ours does not`).toEqual([]);
    }
  });

  it.each(['session.status', 'presence.update'] as const)("%s: what we send is valid against our own document's schema", async (event) => {
    const h = await httpHarness();
    const engine = await h.working('own');
    engine.presence('111@c.us', [{ participant: '111@c.us', lastKnownPresence: 'online', lastSeen: 1_700_000_000 }]);
    await h.sessions.settled('own');
    const validate = ourValidator(await ourDocument(h), event);
    const envelopes = h.publisher.envelopes(event, 'own');
    expect(envelopes.length).toBeGreaterThan(0);
    for (const envelope of envelopes) expect(validate(JSON.parse(JSON.stringify(envelope)))).toEqual([]);
    // And the check can fail: a payload without its name is refused.
    const [first] = envelopes;
    if (first === undefined) throw new Error('unreachable');
    expect(validate({ ...first, payload: {} }).length).toBeGreaterThan(0);
  });

  it("wahaEnvironment() is WAHA's WAHAEnvironment (for the envelope and GET /api/server/version)", () => {
    expect(waha.components.schemas['WAHAEnvironment']).toBeDefined();
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAEnvironment' }, wahaEnvironment(SERVER_VERSION, 'server-1'))).toEqual([]);
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAEnvironment' }, wahaEnvironment(SERVER_VERSION, null))).toEqual([]);
  });
});

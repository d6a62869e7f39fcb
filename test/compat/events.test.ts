import { describe, expect, it } from 'vitest';
import { SERVER_VERSION } from '../../src/events/envelope.js';
import { wahaEnvironment } from '../../src/events/environment.js';
import { httpHarness } from '../support/http.js';
import { waha, wahaErrors, webhookSchema } from './waha-document.js';

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

  it("wahaEnvironment() is WAHA's WAHAEnvironment (for the envelope and GET /api/server/version)", () => {
    expect(waha.components.schemas['WAHAEnvironment']).toBeDefined();
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAEnvironment' }, wahaEnvironment(SERVER_VERSION, 'server-1'))).toEqual([]);
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAEnvironment' }, wahaEnvironment(SERVER_VERSION, null))).toEqual([]);
  });
});

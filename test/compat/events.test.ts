import { describe, expect, it } from 'vitest';
import { SERVER_VERSION } from '../../src/events/envelope.js';
import { wahaEnvironment } from '../../src/events/environment.js';
import { httpHarness } from '../support/http.js';
import { waha, wahaErrors, webhookSchema } from './waha-document.js';

/**
 * Issue 12: the webhook envelope and the `presence.update` / `session.status` payloads, as the
 * server publishes them, against WAHA's webhook schemas.
 *
 * PENDING lists, exactly, what the events module does not give yet (src/events/envelope.ts and the
 * session layer are being restructured; see the README's compatibility section). The test fails on
 * any other gap, and on a pending one that is fixed: then remove it from the list.
 */
const PENDING: Readonly<Record<'session.status' | 'presence.update', readonly string[]>> = {
  'session.status': [
    '/environment: must have required property \'platform\'',
    '/environment: must have required property \'worker\'',
    '/environment/browser: must be string',
    '/payload: must have required property \'name\'',
    '/payload: must have required property \'statuses\'',
  ],
  'presence.update': [
    '/environment: must have required property \'platform\'',
    '/environment: must have required property \'worker\'',
    '/environment/browser: must be string',
  ],
};

/** ajv's errors without their params: the path and what is wrong. */
function gaps(schema: Parameters<typeof wahaErrors>[0], value: unknown): string[] {
  return wahaErrors(schema, value).map((line) => line.replace(/ \{.*\}$/, '')).sort();
}

describe("the events WAHA's webhook receivers get", () => {
  it.each(['session.status', 'presence.update'] as const)("%s: the envelope and payload have WAHA's required fields (but the pending ones)", async (event) => {
    const h = await httpHarness();
    const engine = await h.working('ev');
    engine.presence('111@c.us', [{ participant: '111@c.us', lastKnownPresence: 'online', lastSeen: 1_700_000_000 }]);
    await h.sessions.settled('ev');
    const envelopes = h.publisher.envelopes(event, 'ev');
    expect(envelopes.length).toBeGreaterThan(0);
    for (const envelope of envelopes) {
      expect(gaps(webhookSchema(event), JSON.parse(JSON.stringify(envelope)))).toEqual([...PENDING[event]].sort());
    }
  });

  it("wahaEnvironment() is WAHA's WAHAEnvironment (for the envelope and GET /api/server/version)", () => {
    expect(waha.components.schemas['WAHAEnvironment']).toBeDefined();
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAEnvironment' }, wahaEnvironment(SERVER_VERSION, 'server-1'))).toEqual([]);
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAEnvironment' }, wahaEnvironment(SERVER_VERSION, null))).toEqual([]);
  });
});

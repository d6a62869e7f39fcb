import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_VERSION, makeEnvelope, newEventId } from '../../src/events/envelope.js';
import { wahaEnvironment } from '../../src/events/environment.js';

const source = { session: 'default', metadata: { user: 'a' }, me: { id: '123@c.us', pushName: 'Me' }, engine: 'NOWEB' } as const;

describe('makeEnvelope', () => {
  it("builds WAHA's envelope, field for field", () => {
    const environment = wahaEnvironment(SERVER_VERSION, 'server-1', 'linux/x64');
    const payload = { name: 'default', status: 'WORKING', statuses: [{ status: 'WORKING', timestamp: 1_700_000_000_123 }] } as const;
    const envelope = makeEnvelope('session.status', payload, source, environment, 1_700_000_000_123);
    expect(envelope).toEqual({
      id: expect.stringMatching(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/) as unknown,
      timestamp: 1_700_000_000_123,
      event: 'session.status',
      session: 'default',
      metadata: { user: 'a' },
      me: { id: '123@c.us', pushName: 'Me' },
      engine: 'NOWEB',
      environment: { version: SERVER_VERSION, engine: 'NOWEB', tier: 'CORE', browser: 'none', platform: 'linux/x64', worker: { id: 'server-1' } },
      payload: { name: 'default', status: 'WORKING', statuses: [{ status: 'WORKING', timestamp: 1_700_000_000_123 }] },
    });
  });

  it('keeps the version equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(SERVER_VERSION).toBe(pkg.version);
  });
});

describe('newEventId', () => {
  it('is unique and strictly increasing, also within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newEventId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('sorts by time across milliseconds', () => {
    const earlier = newEventId(1_800_000_000_000);
    const later = newEventId(1_800_000_000_001);
    expect(earlier < later).toBe(true);
    expect(earlier.slice(4, 14)).toBe('01MCC5RM00') // 1_800_000_000_000 in Crockford base-32;
  });
});

import { describe, expect, it } from 'vitest';
import { SERVER_VERSION } from '../../src/events/envelope.js';
import { wahaEnvironment } from '../../src/events/environment.js';
import { createSessionEvents } from '../../src/events/session-events.js';
import type { WebhookConfig } from '../../src/presence/sessions.js';
import { RecordingPublisher } from '../support/recording-publisher.js';

const webhooks: WebhookConfig[] = [{ url: 'http://127.0.0.1:9/hook', events: ['*'] }];
const subject = { me: { id: '123@c.us', pushName: 'Me', jid: '123:4@s.whatsapp.net' }, engine: 'NOWEB', config: { metadata: { team: 'a' }, webhooks } } as const;

describe('createSessionEvents: the session layer says what happened, src/events adds the envelope', () => {
  it("wraps a fact in WAHA's envelope (id, timestamp, me, engine, metadata, this server's environment) and hands it on with the session's webhooks", async () => {
    const publisher = new RecordingPublisher();
    const environment = wahaEnvironment(SERVER_VERSION, 'server-7', 'linux/arm64');
    const events = createSessionEvents({ publisher, environment, clock: { now: () => 1_700_000_000_500 } });
    const payload = { id: '1@c.us', presences: [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: null }] } as const;
    const id = await events.emit({ session: 's', event: 'presence.update', payload }, subject);
    expect(publisher.published).toHaveLength(1);
    const [entry] = publisher.published;
    expect(entry?.webhooks).toBe(webhooks);
    expect(entry?.envelope).toEqual({
      id,
      timestamp: 1_700_000_000_500,
      event: 'presence.update',
      session: 's',
      metadata: { team: 'a' },
      me: subject.me,
      engine: 'NOWEB',
      environment: { version: SERVER_VERSION, engine: 'NOWEB', tier: 'CORE', browser: 'none', platform: 'linux/arm64', worker: { id: 'server-7' } },
      payload,
    });
    expect(id).toMatch(/^evt_/);
  });

  it('a session without metadata or webhooks: metadata null, no webhooks of its own', async () => {
    const publisher = new RecordingPublisher();
    const events = createSessionEvents({ publisher, environment: wahaEnvironment(SERVER_VERSION, null) });
    await events.emit({ session: 's', event: 'session.status', payload: { name: 's', status: 'STARTING', statuses: [] } }, { me: null, engine: 'NOWEB', config: {} });
    expect(publisher.published[0]?.webhooks).toEqual([]);
    expect(publisher.published[0]?.envelope.metadata).toBeNull();
    expect(publisher.published[0]?.envelope.environment.worker).toEqual({ id: null });
  });

  it("rejects when the publisher could not accept the event (the session layer logs it and goes on)", async () => {
    const publisher = new RecordingPublisher();
    publisher.failNext(new Error('outbox full'));
    const events = createSessionEvents({ publisher, environment: wahaEnvironment(SERVER_VERSION, null) });
    const failed = await events.emit({ session: 's', event: 'session.status', payload: { name: 's', status: 'STARTING', statuses: [] } }, { me: null, engine: 'NOWEB', config: {} }).then(
      () => null,
      (error: unknown) => error,
    );
    const id = publisher.published[0]?.envelope.id ?? 'none';
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toBe(`session.status event ${id} of session "s" was not accepted`);
    expect((failed as Error).cause).toEqual(new Error('outbox full'));
  });
});

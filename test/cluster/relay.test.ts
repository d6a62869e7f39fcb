import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RelayChannel } from '../../src/storage/relay.js';
import { MAX_INLINE_BYTES, createEventRelay } from '../../src/cluster/relay.js';
import { makeEnvelope } from '../../src/events/envelope.js';
import { TEST_ENVIRONMENT } from '../support/recording-publisher.js';
import { createHub } from '../../src/events/hub.js';
import type { HubClient } from '../../src/events/hub.js';
import type { EventPublisher } from '../../src/events/publisher.js';
import { openPostgresStorage } from '../../src/storage/postgres/open.js';
import { createPool } from '../../src/storage/postgres/database.js';
import { createPostgresRelayChannel, relayChannel } from '../../src/storage/postgres/relay.js';
import { silentLogger } from '../support/harness.js';
import { TEST_DATABASE_URL, describePostgres } from '../support/postgres.js';

const DATABASE_URL = TEST_DATABASE_URL;

/** Test double of a WebSocket client: records what the hub sends it. */
class RecordingClient implements HubClient {
  readonly received: string[] = [];
  private waiters: (() => void)[] = [];
  bufferedAmount = 0;
  send(data: string): void {
    this.received.push(data);
    for (const waiter of this.waiters.splice(0)) waiter();
  }
  close(): void {
    throw new Error('RecordingClient: the hub closed a client that reads everything');
  }
  async next(count: number): Promise<void> {
    while (this.received.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

async function server(schema: string, serverId: string, othersLive?: () => boolean): Promise<{ publisher: EventPublisher; client: RecordingClient }> {
  const pool = createPool({ url: DATABASE_URL, schema, max: 2 });
  const hub = createHub();
  const client = new RecordingClient();
  hub.subscribe({ session: '*', events: ['*'] }, client);
  const channel = createPostgresRelayChannel({ url: DATABASE_URL, schema, pool, logger: silentLogger });
  const relay = createEventRelay({ serverId, channel, hub, logger: silentLogger, ...(othersLive === undefined ? {} : { othersLive }) });
  await relay.start();
  onTestFinished(async () => {
    await relay.close();
    await pool.end();
  });
  // The local publisher (the events engine) hands events to its own hub; the relay does the rest.
  const local: EventPublisher = {
    publish: (envelope) => {
      hub.publish(envelope.session, envelope.event, JSON.stringify(envelope));
      return Promise.resolve();
    },
  };
  return { publisher: relay.wrap(local), client };
}

/** A schema of its own with the tables migrated, dropped when the test ends. */
async function freshSchema() {
  const schema = `relay_test_${randomBytes(5).toString('hex')}`;
  const storage = await openPostgresStorage({ url: DATABASE_URL, schema, poolSize: 2 });
  onTestFinished(async () => {
    await storage.close();
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  });
  return { schema, storage };
}

describePostgres('event relay between servers (LISTEN/NOTIFY)', () => {
  it('hands every accepted event to the WebSocket clients of the other servers, once each', async () => {
    const { schema, storage } = await freshSchema();
    const a = await server(schema, 'a');
    const b = await server(schema, 'b');
    const source = { session: 's1', metadata: null, me: null, engine: 'NOWEB' as const };

    const small = makeEnvelope('session.status', { name: 's1', status: 'WORKING', statuses: [{ status: 'WORKING', timestamp: 1 }] }, source, TEST_ENVIRONMENT, 1);
    await a.publisher.publish(small, []);
    await b.client.next(1);
    expect(a.client.received).toEqual([JSON.stringify(small)]);
    expect(b.client.received).toEqual([JSON.stringify(small)]);

    // Too large for a NOTIFY payload: it travels by id and is read back from the outbox.
    const presences = Array.from({ length: 200 }, (_, i) => ({ participant: `${1000 + i}@c.us`, lastKnownPresence: 'online' as const, lastSeen: null }));
    const large = makeEnvelope('presence.update', { id: 'g@g.us', presences }, source, TEST_ENVIRONMENT, 2);
    const body = JSON.stringify(large);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_INLINE_BYTES);
    await storage.outbox.enqueue({ id: large.id, session: 's1', event: large.event, body }, [{ url: 'http://127.0.0.1:9/hook', webhookKey: 'k', orderKey: 'o', target: '{}' }], 2);
    await b.publisher.publish(large, []);
    await a.client.next(2);
    expect(a.client.received[1]).toBe(body);
    expect(b.client.received).toEqual([JSON.stringify(small), body]);
  });

  it('relays a burst in order, many events to a NOTIFY', async () => {
    const { schema } = await freshSchema();
    const counter = new pg.Client({ connectionString: DATABASE_URL });
    await counter.connect();
    onTestFinished(() => counter.end());
    let notifications = 0;
    counter.on('notification', () => {
      notifications += 1;
    });
    await counter.query(`LISTEN "${relayChannel(schema)}"`);
    const a = await server(schema, 'a');
    const b = await server(schema, 'b');
    const source = { session: 's1', metadata: null, me: null, engine: 'NOWEB' as const };
    const envelopes = Array.from({ length: 300 }, (_, i) => makeEnvelope('session.status', { name: 's1', status: i % 2 === 0 ? 'WORKING' : 'STARTING', statuses: [] }, source, TEST_ENVIRONMENT, i));
    await Promise.all(envelopes.map((envelope) => a.publisher.publish(envelope, [])));
    await b.client.next(300);
    expect(b.client.received).toEqual(envelopes.map((envelope) => JSON.stringify(envelope)));
    expect(notifications).toBeGreaterThan(0);
    expect(notifications).toBeLessThan(300 / 10);
  });

  it('a lone server sends no NOTIFY (nor hears its own hello) until another server starts listening, whose hello makes it relay before the registry lists it', async () => {
    const { schema } = await freshSchema();
    const counter = new pg.Client({ connectionString: DATABASE_URL });
    await counter.connect();
    onTestFinished(() => counter.end());
    const events: string[] = [];
    counter.on('notification', (notification) => {
      if (notification.payload !== '[]') events.push(notification.payload ?? '');
    });
    await counter.query(`LISTEN "${relayChannel(schema)}"`);
    const source = { session: 's1', metadata: null, me: null, engine: 'NOWEB' as const };
    const envelope = (i: number) => makeEnvelope('session.status', { name: 's1', status: 'WORKING', statuses: [] }, source, TEST_ENVIRONMENT, i);

    // The registry (othersLive) never lists another server here: only the hello can.
    const a = await server(schema, 'a', () => false);
    // Long enough for a's own hello to have come back to it, were it not left out.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.publisher.publish(envelope(1), []);
    await a.client.next(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual([]);

    const b = await server(schema, 'b');
    let i = 2;
    await expect
      .poll(async () => {
        await a.publisher.publish(envelope(i++), []);
        return b.client.received.length;
      }, { timeout: 5000, interval: 50 })
      .toBeGreaterThan(0);
  });
});

/** Test double of the relay's channel: records what is sent, and lets a test deliver payloads. */
function recordingChannel() {
  const sent: string[] = [];
  let hellos = 0;
  let deliver: (payload: string) => void = () => undefined;
  const channel: RelayChannel = {
    notify: (payload) => {
      sent.push(payload);
      return Promise.resolve();
    },
    listen: (onPayload) => {
      deliver = onPayload;
      return Promise.resolve();
    },
    hello: () => {
      hellos += 1;
      return Promise.resolve();
    },
    eventBody: () => Promise.resolve(undefined),
    close: () => Promise.resolve(),
  };
  return { channel, sent, hellos: () => hellos, deliver: (payload: string) => deliver(payload) };
}

describe('event relay, whether anyone listens', () => {
  const source = { session: 's1', metadata: null, me: null, engine: 'NOWEB' as const };
  const envelope = (i: number) => makeEnvelope('session.status', { name: 's1', status: 'WORKING', statuses: [] }, source, TEST_ENVIRONMENT, i);
  const local: EventPublisher = { publish: () => Promise.resolve() };
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('sends events only while another server is live or a hello was heard within helloMs', async () => {
    const { channel, sent, hellos, deliver } = recordingChannel();
    let others = false;
    let now = 1000;
    const relay = createEventRelay({ serverId: 'a', channel, hub: createHub(), logger: silentLogger, othersLive: () => others, helloMs: 4000, now: () => now });
    await relay.start();
    expect(hellos()).toBe(1);
    const publisher = relay.wrap(local);

    await publisher.publish(envelope(1), []);
    await settle();
    expect(sent).toEqual([]);

    deliver('[]');
    const second = envelope(2);
    await publisher.publish(second, []);
    await settle();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain(second.id);

    now += 4000;
    await publisher.publish(envelope(3), []);
    await settle();
    expect(sent).toHaveLength(1);

    others = true;
    const fourth = envelope(4);
    await publisher.publish(fourth, []);
    await settle();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toContain(fourth.id);
  });
});

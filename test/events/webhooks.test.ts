import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { GlobalHookConfig } from '../../src/config.js';
import { makeEnvelope } from '../../src/events/envelope.js';
import { TEST_ENVIRONMENT } from '../support/recording-publisher.js';
import { createOutboxPublisher } from '../../src/events/outbox-publisher.js';
import type { DeliveryWorker, WorkerOptions } from '../../src/events/worker.js';
import { createDeliveryWorker } from '../../src/events/worker.js';
import type { AnyEventEnvelope } from '../../src/presence/events.js';
import type { WebhookConfig } from '../../src/presence/sessions.js';
import type { Storage } from '../../src/storage/index.js';
import { openStorage } from '../../src/storage/index.js';
import type { AttemptOutcome, ClaimedDelivery } from '../../src/storage/outbox.js';
import { ReceiverDouble } from './receiver-double.js';

const logger = pino({ level: 'silent' });
const fastRetries = { policy: 'constant', delaySeconds: 0, attempts: 100 } as const;
const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

async function receiver(): Promise<ReceiverDouble> {
  const r = new ReceiverDouble();
  await r.start();
  teardown.push(() => r.stop());
  return r;
}

/** A port nothing listens on: the receiver is down. */
async function deadUrl(): Promise<string> {
  const r = new ReceiverDouble();
  await r.start();
  await r.stop();
  return r.url;
}

interface Harness {
  storage: Storage;
  publish(envelope: AnyEventEnvelope, webhooks: readonly WebhookConfig[]): Promise<void>;
  worker: DeliveryWorker;
  attempts: { delivery: ClaimedDelivery; outcome: AttemptOutcome }[];
  waitAttempts(predicate: (a: Harness['attempts']) => boolean): Promise<void>;
  dataDir: string;
}

async function harness(
  extra: Partial<WorkerOptions> = {},
  globalHook: GlobalHookConfig | null = null,
  dataDir?: string,
  autoStart = true,
): Promise<Harness> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'wa-presence-events-')));
  if (dataDir === undefined) teardown.push(() => rm(dir, { recursive: true, force: true }));
  const storage = await openStorage({ dataDir: dir, databaseUrl: null });
  teardown.push(() => storage.close());
  const attempts: Harness['attempts'] = [];
  const waiters: (() => void)[] = [];
  const worker = createDeliveryWorker({
    outbox: storage.outbox,
    owner: 'test-server',
    logger,
    timeoutMs: 2000,
    pollMs: 200,
    retryBounds: { minDelayMs: 20, maxDelayMs: 200, jitter: 0 },
    onAttempt: (delivery, outcome) => {
      attempts.push({ delivery, outcome });
      for (const w of waiters.splice(0)) w();
    },
    ...extra,
  });
  const publisher = createOutboxPublisher({ outbox: storage.outbox, hub: null, globalHook, wake: () => worker.wake() });
  if (autoStart) await worker.start();
  teardown.push(() => worker.stop());
  return {
    storage,
    worker,
    attempts,
    dataDir: dir,
    publish: (envelope, webhooks) => publisher.publish(envelope, webhooks),
    waitAttempts: async (predicate) => {
      while (!predicate(attempts)) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

let counter = 0;
function presence(chat: string, session = 's1'): AnyEventEnvelope {
  counter += 1;
  return makeEnvelope(
    'presence.update',
    { id: chat, presences: [{ participant: chat, lastKnownPresence: counter % 2 === 0 ? 'online' : 'typing', lastSeen: counter }] },
    { session, metadata: { n: String(counter) }, me: { id: '1@c.us', pushName: 'Zoë' }, engine: 'NOWEB' },
    TEST_ENVIRONMENT,
    Date.now(),
  );
}

function chatOf(envelope: AnyEventEnvelope): string | null {
  return envelope.event === 'presence.update' ? envelope.payload.id : null;
}

describe('webhook delivery through the outbox', () => {
  it('delivers the exact envelope, signed, to every webhook that wants the event (and the global one)', async () => {
    const a = await receiver();
    const b = await receiver();
    const g = await receiver();
    const h = await harness({}, {
      url: g.url,
      events: ['*'],
      hmacKey: 'global-key',
      retries: fastRetries,
      customHeaders: [{ name: 'X-From', value: 'env' }],
    });
    const envelope = presence('111@c.us');
    await h.publish(envelope, [
      { url: a.url, events: ['presence.update'], hmac: { key: 'secret-a' }, retries: fastRetries },
      { url: b.url, events: ['session.status'] },
    ]);
    await a.waitFor(() => a.requests.length === 1);
    await g.waitFor(() => g.requests.length === 1);
    const gotA = a.requests[0];
    const gotG = g.requests[0];
    if (gotA === undefined || gotG === undefined) throw new Error('unreachable');
    expect(gotA.raw.toString('utf8')).toBe(JSON.stringify(envelope));
    expect(gotA.headers['x-webhook-hmac']).toBe(createHmac('sha512', 'secret-a').update(gotA.raw).digest('hex'));
    expect(gotG.headers['x-webhook-hmac']).toBe(createHmac('sha512', 'global-key').update(gotG.raw).digest('hex'));
    expect(gotG.headers['x-from']).toBe('env');
    expect(gotA.body).toMatchObject({ id: envelope.id, event: 'presence.update', session: 's1', payload: { id: '111@c.us' } });
    await h.waitAttempts((list) => list.length === 2);
    expect(b.requests).toEqual([]);
    const delivered = await h.storage.outbox.list('s1', { status: 'delivered', limit: 10, before: null });
    expect(delivered.map((d) => d.url).sort()).toEqual([a.url, g.url].sort());
  });

  it('retries while the receiver is down and delivers when it comes back', async () => {
    const r = await receiver();
    await r.stop();
    const h = await harness();
    const envelopes = [presence('1@c.us'), presence('2@c.us'), presence('1@c.us')];
    for (const e of envelopes) await h.publish(e, [{ url: r.url, events: ['*'], retries: fastRetries }]);
    await h.waitAttempts((list) => list.filter((a) => a.outcome.kind === 'retry').length >= 4);
    expect(h.attempts.every((a) => a.outcome.kind === 'retry' && /ECONNREFUSED/.test(a.outcome.error))).toBe(true);
    await r.start();
    await r.waitFor(() => r.deliveredIds().length === 3);
    expect(r.deliveredIds().sort()).toEqual(envelopes.map((e) => e.id).sort());
    await h.waitAttempts((list) => list.filter((a) => a.outcome.kind === 'delivered').length === 3);
    expect(await h.storage.outbox.countPending()).toBe(0);
  });

  it('answers 500 then 200: delivered on the second attempt', async () => {
    const r = await receiver();
    let calls = 0;
    r.responder = () => (++calls === 1 ? 500 : 200);
    const h = await harness();
    const e = presence('1@c.us');
    await h.publish(e, [{ url: r.url, events: ['*'], retries: fastRetries }]);
    await r.waitFor(() => r.deliveredIds().length === 1);
    expect(r.requests.map((q) => q.status)).toEqual([500, 200]);
    expect(r.requests[0]?.raw.equals(r.requests[1]?.raw ?? Buffer.alloc(0))).toBe(true);
    expect(r.requests[0]?.headers['x-webhook-request-id']).not.toBe(r.requests[1]?.headers['x-webhook-request-id']);
    await h.waitAttempts((list) => list.length === 2);
    const [record] = await h.storage.outbox.list('s1', { status: null, limit: 10, before: null });
    expect(record).toMatchObject({ status: 'delivered', attempts: 2, lastStatus: 200, lastError: null });
  });

  it('records 410 as a permanent failure after one attempt', async () => {
    const r = await receiver();
    r.responder = () => 410;
    const h = await harness();
    await h.publish(presence('1@c.us'), [{ url: r.url, events: ['*'], retries: fastRetries }]);
    await h.waitAttempts((list) => list.length === 1);
    expect(h.attempts[0]?.outcome).toEqual({ kind: 'failed', error: 'HTTP 410', status: 410 });
    const failed = await h.storage.outbox.list('s1', { status: 'failed', limit: 10, before: null });
    expect(failed).toMatchObject([{ status: 'failed', attempts: 1, lastStatus: 410, lastError: 'HTTP 410' }]);
    expect(r.requests).toHaveLength(1);
  });

  it('gives up after the policy’s attempts and records the failure', async () => {
    const r = await receiver();
    r.responder = () => 503;
    const h = await harness();
    await h.publish(presence('1@c.us'), [{ url: r.url, events: ['*'], retries: { policy: 'linear', delaySeconds: 0, attempts: 2 } }]);
    await h.waitAttempts((list) => list.some((a) => a.outcome.kind === 'failed'));
    expect(h.attempts.map((a) => a.outcome.kind)).toEqual(['retry', 'retry', 'failed']);
    expect(r.requests).toHaveLength(3);
  });

  it('keeps order per chat at a live receiver while another webhook is dead', async () => {
    const live = await receiver();
    const dead = await deadUrl();
    const h = await harness();
    const webhooks: WebhookConfig[] = [
      { url: dead, events: ['*'], retries: fastRetries },
      { url: live.url, events: ['*'], retries: fastRetries },
    ];
    // Some of the live receiver's answers fail, so retries interleave with newer events.
    let n = 0;
    live.responder = () => (++n % 3 === 0 ? 503 : 200);
    const sent: AnyEventEnvelope[] = [];
    for (let i = 0; i < 30; i += 1) {
      const e = presence(`${i % 3}@c.us`);
      sent.push(e);
      await h.publish(e, webhooks);
    }
    await live.waitFor(() => live.deliveredIds().length === 30);
    await h.waitAttempts((list) => list.filter((a) => a.outcome.kind === 'delivered').length === 30);
    for (const chat of ['0@c.us', '1@c.us', '2@c.us']) {
      const expected = sent.filter((e) => chatOf(e) === chat).map((e) => e.id);
      const got = (live.delivered() as AnyEventEnvelope[]).filter((e) => chatOf(e) === chat).map((e) => e.id);
      expect(got).toEqual(expected);
    }
    // The dead webhook's deliveries are all still pending, none lost.
    const pending = await h.storage.outbox.list('s1', { status: 'pending', limit: 100, before: null });
    expect(pending).toHaveLength(30);
    expect(pending.every((d) => d.url === dead)).toBe(true);
  });

  it('a slow receiver holds only its own slots: a fast one gets its events meanwhile', async () => {
    const fast = await receiver();
    let release: () => void = () => undefined;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let slowRequests = 0;
    // Takes every request and answers none until the test lets it.
    const hanging = createServer((_req, res) => {
      slowRequests += 1;
      void hold.then(() => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    teardown.push(async () => {
      release();
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    });
    const slowUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`;
    const h = await harness({ concurrency: 4, perWebhookConcurrency: 2, timeoutMs: 10_000 });
    const webhooks: WebhookConfig[] = [
      { url: slowUrl, events: ['*'], retries: fastRetries },
      { url: fast.url, events: ['*'], retries: fastRetries },
    ];
    for (let i = 0; i < 20; i += 1) await h.publish(presence(`${i}@c.us`), webhooks);
    await fast.waitFor(() => fast.deliveredIds().length === 20);
    // The slow webhook never had more than its 2 slots, so 2 were left for the fast one.
    expect(slowRequests).toBe(2);
    release();
    await h.waitAttempts((list) => list.filter((a) => a.delivery.url === slowUrl).length >= 2);
  });

  it('claims only what a webhook has slots for: a backlog is never claimed and then given back', async () => {
    const r = await receiver();
    const h = await harness({ concurrency: 8, perWebhookConcurrency: 2 }, null, undefined, false);
    const released: number[][] = [];
    const outbox = h.storage.outbox;
    const worker = createDeliveryWorker({
      outbox: { ...outbox, release: (ids, owner) => (released.push([...ids]), outbox.release(ids, owner)) },
      owner: 'test-server',
      logger,
      perWebhookConcurrency: 2,
      concurrency: 8,
    });
    for (let i = 0; i < 20; i += 1) await h.publish(presence(`${i}@c.us`), [{ url: r.url, events: ['*'], retries: fastRetries }]);
    await worker.start();
    teardown.push(() => worker.stop());
    await r.waitFor(() => r.deliveredIds().length === 20);
    expect(released).toEqual([]);
  });

  it("frees a webhook's slot when the receiver answers, before the outcome is recorded", async () => {
    const r = await receiver();
    const h = await harness({ concurrency: 8, perWebhookConcurrency: 1 }, null, undefined, false);
    const outbox = h.storage.outbox;
    let holdOutcomes = true;
    const held: (() => void)[] = [];
    // Without hand-off (as on PostgreSQL): with it, a final outcome's commit may hand the chat's
    // next delivery to this slot, so the slot is held until it (test below).
    const { enqueueAndClaim: _accept, completeAndClaim: _complete, ...withoutHandOff } = outbox;
    const worker = createDeliveryWorker({
      // A test double of a slow database: outcomes commit only when the test lets them.
      outbox: {
        ...withoutHandOff,
        complete: (id, owner, outcome, now) =>
          new Promise<boolean>((resolve, reject) => {
            const commit = (): void => void outbox.complete(id, owner, outcome, now).then(resolve, reject);
            if (holdOutcomes) held.push(commit);
            else commit();
          }),
      },
      owner: 'test-server',
      logger,
      perWebhookConcurrency: 1,
      concurrency: 8,
      pollMs: 50,
    });
    // Two chats: the second delivery does not wait for the first one's outcome to be its key's head.
    await h.publish(presence('1@c.us'), [{ url: r.url, events: ['*'], retries: fastRetries }]);
    await h.publish(presence('2@c.us'), [{ url: r.url, events: ['*'], retries: fastRetries }]);
    await worker.start();
    teardown.push(() => worker.stop());
    // One slot, and the first outcome not yet recorded: the second request still goes out.
    await r.waitFor(() => r.deliveredIds().length === 2);
    expect(held.length).toBeGreaterThanOrEqual(1);
    holdOutcomes = false;
    for (const commit of held.splice(0)) commit();
  });

  it('a webhook whose config was replaced gets the new target (key, headers) from the next event on', async () => {
    const r = await receiver();
    const h = await harness();
    const first = { url: r.url, events: ['*'], hmac: { key: 'old-key' }, retries: fastRetries };
    await h.publish(presence('1@c.us'), [first]);
    await h.publish(presence('1@c.us'), [{ ...first, hmac: { key: 'new-key' }, customHeaders: [{ name: 'X-Tenant', value: 't2' }] }]);
    await r.waitFor(() => r.deliveredIds().length === 2);
    expect(
      r.requests.map((request) => [
        request.headers['x-webhook-hmac'] === createHmac('sha512', 'old-key').update(request.raw).digest('hex'),
        request.headers['x-webhook-hmac'] === createHmac('sha512', 'new-key').update(request.raw).digest('hex'),
        request.headers['x-tenant'] ?? null,
      ]),
    ).toEqual([
      [true, false, null],
      [false, true, 't2'],
    ]);
  });

  it('past the cap, drops the oldest pending deliveries, counts them, and delivers the rest', async () => {
    const r = await receiver();
    await r.stop();
    // Not started yet: nothing is in flight (claimed deliveries are never dropped), so which ones
    // are dropped is exact.
    const h = await harness({ maxPending: 10, capCheckMs: 0 }, null, undefined, false);
    const sent: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const e = presence(`${i}@c.us`);
      sent.push(e.id);
      await h.publish(e, [{ url: r.url, events: ['*'], retries: fastRetries }]);
    }
    await h.worker.start();
    await h.waitAttempts(() => h.worker.stats().dropped >= 20);
    expect(h.worker.stats().dropped).toBe(20);
    expect(await h.storage.outbox.countPending()).toBe(10);
    const dropped = await h.storage.outbox.list('s1', { status: 'dropped', limit: 100, before: null });
    expect(dropped).toHaveLength(20);
    await r.start();
    await r.waitFor(() => r.deliveredIds().length === 10);
    expect(r.deliveredIds().sort()).toEqual(sent.slice(20).sort());
  });

  it('resumes pending deliveries after a restart on the same database', async () => {
    const r = await receiver();
    await r.stop();
    const dir = await mkdtemp(join(tmpdir(), 'wa-presence-events-'));
    teardown.push(() => rm(dir, { recursive: true, force: true }));
    const first = await harness({}, null, dir);
    const sent: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const e = presence(`${i}@c.us`);
      sent.push(e.id);
      await first.publish(e, [{ url: r.url, events: ['*'], retries: fastRetries }]);
    }
    await first.worker.stop();
    await first.storage.close();
    await r.start();
    await harness({}, null, dir);
    await r.waitFor(() => r.deliveredIds().length === 5);
    expect(r.deliveredIds().sort()).toEqual(sent.sort());
  });
});

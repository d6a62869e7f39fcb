import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../src/events/envelope.js';
import { createOutboxPublisher } from '../../src/events/outbox-publisher.js';
import type { WorkerOptions } from '../../src/events/worker.js';
import { createDeliveryWorker } from '../../src/events/worker.js';
import type { AnyEventEnvelope } from '../../src/presence/events.js';
import { openStorage } from '../../src/storage/index.js';
import type { ClaimRequest, OutboxStore } from '../../src/storage/outbox.js';
import { TEST_ENVIRONMENT } from '../support/recording-publisher.js';

const logger = pino({ level: 'silent' });
const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

/** Test double of a webhook receiver that records the chat of each request and answers when the test says (or at once). */
async function heldReceiver(): Promise<{ url: string; chats: string[]; hold: boolean; release(): void; waitFor(n: number): Promise<void> }> {
  const held: ServerResponse[] = [];
  const waiters: (() => void)[] = [];
  const state = {
    url: '',
    chats: [] as string[],
    hold: false,
    release() {
      for (const response of held.splice(0)) response.writeHead(200).end();
    },
    async waitFor(n: number) {
      while (state.chats.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payload: { id: string; presences: { lastSeen: number }[] } };
      state.chats.push(`${body.payload.id}#${body.payload.presences[0]?.lastSeen ?? ''}`);
      if (state.hold) held.push(response);
      else response.writeHead(200).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  teardown.push(
    () =>
      new Promise<void>((resolve) => {
        state.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** The SQLite outbox (it hands off), its claim passes counted, a worker and a publisher wired as src/events/engine.ts does. */
async function harness(extra: Partial<WorkerOptions>) {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-handoff-'));
  teardown.push(() => rm(dir, { recursive: true, force: true }));
  const storage = await openStorage({ dataDir: dir, databaseUrl: null });
  teardown.push(() => storage.close());
  const claims = { started: 0, finished: 0 };
  const outbox: OutboxStore = {
    ...storage.outbox,
    claim: async (request: ClaimRequest) => {
      claims.started += 1;
      try {
        return await storage.outbox.claim(request);
      } finally {
        claims.finished += 1;
      }
    },
  };
  // A long poll: every pass in these tests is one the worker asked for, none a timer's.
  const worker = createDeliveryWorker({ outbox, owner: 'test-server', logger, pollMs: 60_000, ...extra });
  const publisher = createOutboxPublisher({ outbox, hub: null, globalHook: null, wake: (keys) => worker.wake(keys), handOff: worker });
  await worker.start();
  teardown.push(() => worker.stop());
  // The start's pass finds the outbox empty: from then on nothing due waits in storage.
  while (claims.finished === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  return { storage, worker, claims, publish: (envelope: AnyEventEnvelope, url: string) => publisher.publish(envelope, [{ url, events: ['*'] }]) };
}

let counter = 0;
function presence(chat: string): AnyEventEnvelope {
  counter += 1;
  return makeEnvelope(
    'presence.update',
    { id: chat, presences: [{ participant: chat, lastKnownPresence: 'online', lastSeen: counter }] },
    { session: 's1', metadata: {}, me: { id: '1@c.us', pushName: 'Me' }, engine: 'NOWEB' },
    TEST_ENVIRONMENT,
    Date.now(),
  );
}

describe('webhook hand-off (an accept claims what the worker has slots for)', () => {
  it("sends accepted events without a claim pass; a chat's next event is claimed by its predecessor's outcome", async () => {
    const r = await heldReceiver();
    const h = await harness({});
    const sent: Record<string, number[]> = { '1@c.us': [], '2@c.us': [] };
    for (let i = 0; i < 10; i += 1) {
      for (const chat of ['1@c.us', '2@c.us']) {
        const envelope = presence(chat);
        sent[chat]?.push(counter);
        await h.publish(envelope, r.url);
      }
    }
    await r.waitFor(20);
    // Per chat in order, though most were behind their predecessor when accepted.
    for (const chat of ['1@c.us', '2@c.us']) {
      expect(r.chats.filter((c) => c.startsWith(`${chat}#`))).toEqual((sent[chat] ?? []).map((n) => `${chat}#${n}`));
    }
    // Only the start's pass claimed: every delivery came through the accept or its predecessor's outcome.
    expect(h.claims.started).toBe(1);
    await expect.poll(() => h.storage.outbox.countPending()).toBe(0);
  });

  it("while a webhook's slots are full, new events wait in storage and go out oldest first, before later ones", async () => {
    const r = await heldReceiver();
    const h = await harness({ perWebhookConcurrency: 1 });
    r.hold = true;
    await h.publish(presence('1@c.us'), r.url);
    await r.waitFor(1);
    const claimsWhileFull = h.claims.started;
    // No slot: accepted unclaimed, and the worker now knows storage holds due deliveries.
    await h.publish(presence('2@c.us'), r.url);
    await h.publish(presence('3@c.us'), r.url);
    const refused = h.worker.reserve(['any-webhook']);
    expect(refused).toBeNull();
    await h.publish(presence('4@c.us'), r.url);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Their webhook has no free slot: no pass looked (it would have claimed nothing); its next answer's does.
    expect(h.claims.started).toBe(claimsWhileFull);
    r.hold = false;
    r.release();
    await r.waitFor(4);
    expect(r.chats.map((c) => c.split('#')[0])).toEqual(['1@c.us', '2@c.us', '3@c.us', '4@c.us']);
    expect(h.claims.started).toBeGreaterThan(1);
    // Drained by a pass that found fewer than it had room for: hand-off again.
    await expect.poll(() => h.storage.outbox.countPending()).toBe(0);
    // (A reservation of no webhook takes nothing: it only tells whether the worker hands off.)
    await expect.poll(() => h.worker.reserve([]) !== null).toBe(true);
    const before = h.claims.started;
    await h.publish(presence('5@c.us'), r.url);
    await r.waitFor(5);
    expect(h.claims.started).toBe(before);
  });
});

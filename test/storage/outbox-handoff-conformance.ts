import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxStore } from '../../src/storage/outbox.js';
import type { OutboxFixture } from './outbox-conformance.js';
import { delivery, event } from './outbox-conformance.js';

const T0 = 1_700_000_000_000;
const LEASE = 30_000;
const handOff = (take: boolean[], owner = 'srv') => ({ owner, leaseMs: LEASE, take });

type HandOffStore = OutboxStore & Required<Pick<OutboxStore, 'enqueueAndClaim' | 'completeAndClaim'>>;

function withHandOff(store: OutboxStore): HandOffStore {
  const { enqueueAndClaim, completeAndClaim } = store;
  if (enqueueAndClaim === undefined || completeAndClaim === undefined) throw new Error('this backend has no hand-off');
  return { ...store, enqueueAndClaim, completeAndClaim };
}

/** The hand-off's conformance suite (`OutboxStore.enqueueAndClaim`, `completeAndClaim`): every backend that has it passes exactly this. */
export function describeOutboxHandOff(name: string, createFixture: () => Promise<OutboxFixture>): void {
  describe(`outbox hand-off conformance: ${name}`, () => {
    let fixture: OutboxFixture;
    let store: HandOffStore;
    beforeEach(async () => {
      fixture = await createFixture();
      store = withHandOff(await fixture.open());
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('the accept claims the taken deliveries that are due; the others are enqueued as by enqueue', async () => {
      await store.enqueue(event('old'), [delivery('a', 'busy')], T0);
      const result = await store.enqueueAndClaim(
        event('e1'),
        [delivery('a', 'c1'), delivery('b', 'c1'), delivery('a', 'busy')],
        T0 + 1,
        handOff([true, false, true]),
      );
      expect(result.accepted).toBe(true);
      const [taken, notTaken, behind] = result.claimed;
      expect(taken).toMatchObject({ eventId: 'e1', session: 's1', event: 'presence.update', url: 'http://a.test/hook', webhookKey: 'a', orderKey: 'a|c1', attempts: 0, body: event('e1').body });
      expect(notTaken).toBeNull();
      // Behind `old` of its order key: not due, so not claimed, however much the caller wanted it.
      expect(behind).toBeNull();
      // The claim is the caller's: nobody else gets it before its lease runs out, then anyone may.
      const others = await store.claim({ owner: 'other', now: T0 + 2, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [] });
      expect(others.map((d) => [d.eventId, d.webhookKey]).sort()).toEqual([['e1', 'b'], ['old', 'a']]);
      const afterLease = await store.claim({ owner: 'other', now: T0 + 1 + LEASE, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [] });
      expect(afterLease.map((d) => d.id)).toEqual([taken?.id]);
      // Its lease ran out and another owner took it: the first owner's outcome is refused, as for any claim.
      expect(await store.complete(taken?.id ?? 0, 'srv', { kind: 'delivered', status: 200 }, T0 + 3)).toBe(false);
    });

    it('accepts made together (one group commit) each get their own claims, in call order', async () => {
      const results = await Promise.all([
        store.enqueueAndClaim(event('e1'), [delivery('a', 'c1'), delivery('b', 'c1')], T0, handOff([true, false])),
        store.enqueueAndClaim(event('e2'), [delivery('a', 'c2'), delivery('b', 'c2')], T0, handOff([false, true])),
        store.enqueueAndClaim(event('e1'), [delivery('a', 'c9')], T0, handOff([true])),
        // Behind e1's delivery to a (same order key, accepted before it in the batch): not due.
        store.enqueueAndClaim(event('e3'), [delivery('a', 'c1'), delivery('b', 'c3')], T0, handOff([true, true])),
      ]);
      expect(results.map((r) => [r.accepted, r.claimed.map((d) => (d === null ? null : `${d.eventId}>${d.orderKey}`))])).toEqual([
        [true, ['e1>a|c1', null]],
        [true, [null, 'e2>b|c2']],
        [false, [null]],
        [true, [null, 'e3>b|c3']],
      ]);
      // Each claimed id is that delivery's row: claimable by nobody else, and completing it frees its key.
      const ids = results.flatMap((r) => r.claimed.flatMap((d) => (d === null ? [] : [d.id])));
      expect(new Set(ids).size).toBe(3);
      const others = await store.claim({ owner: 'other', now: T0 + 1, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [] });
      expect(others.map((d) => `${d.eventId}>${d.orderKey}`).sort()).toEqual(['e1>b|c1', 'e2>a|c2']);
      const e1a = results[0]?.claimed[0];
      expect(await store.complete(e1a?.id ?? 0, 'srv', { kind: 'delivered', status: 200 }, T0 + 2)).toBe(true);
      const next = await store.claim({ owner: 'other', now: T0 + 3, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [] });
      expect(next.map((d) => `${d.eventId}>${d.orderKey}`)).toEqual(['e3>a|c1']);
    });

    it('a duplicate event id accepts nothing and claims nothing', async () => {
      expect((await store.enqueueAndClaim(event('e1'), [delivery('a', 'c1')], T0, handOff([true]))).accepted).toBe(true);
      const again = await store.enqueueAndClaim(event('e1'), [delivery('a', 'c2')], T0, handOff([true]));
      expect(again).toEqual({ accepted: false, claimed: [null] });
      expect(await store.countPending()).toBe(1);
    });

    it("a final outcome claims the order key's next delivery for its owner; a retry or a lost claim claims nothing", async () => {
      const first = (await store.enqueueAndClaim(event('e1'), [delivery('a', 'c1')], T0, handOff([true]))).claimed[0];
      await store.enqueue(event('e2'), [delivery('a', 'c1')], T0 + 1);
      await store.enqueue(event('e3'), [delivery('a', 'c1')], T0 + 2);
      if (first === null || first === undefined) throw new Error('e1 was not claimed');
      // Another owner's outcome is not recorded and takes nothing.
      expect(await store.completeAndClaim(first.id, 'other', { kind: 'delivered', status: 200 }, T0 + 3, LEASE)).toEqual({ recorded: false, successor: null });
      // A retry keeps the head: its successor stays behind it.
      const retried = await store.completeAndClaim(first.id, 'srv', { kind: 'retry', nextAttemptAt: T0 + 10, error: 'HTTP 503', status: 503 }, T0 + 4, LEASE);
      expect(retried).toEqual({ recorded: true, successor: null });
      const [again] = await store.claim({ owner: 'srv', now: T0 + 10, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [] });
      expect(again).toMatchObject({ id: first.id, attempts: 1 });
      const delivered = await store.completeAndClaim(first.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 11, LEASE);
      expect(delivered.recorded).toBe(true);
      expect(delivered.successor).toMatchObject({ eventId: 'e2', orderKey: 'a|c1', attempts: 0, body: event('e2').body });
      // Claimed: nobody else gets it, and only it (e3 is still behind it).
      expect(await store.claim({ owner: 'other', now: T0 + 12, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [] })).toEqual([]);
      const failed = await store.completeAndClaim(delivered.successor?.id ?? 0, 'srv', { kind: 'failed', error: 'HTTP 410', status: 410 }, T0 + 13, LEASE);
      expect(failed.successor).toMatchObject({ eventId: 'e3' });
      const last = await store.completeAndClaim(failed.successor?.id ?? 0, 'srv', { kind: 'delivered', status: 200 }, T0 + 14, LEASE);
      expect(last).toEqual({ recorded: true, successor: null });
      expect(await store.countPending()).toBe(0);
      const statuses = (await store.list('s1', { status: null, limit: 10, before: null })).map((d) => [d.eventId, d.status]);
      expect(statuses).toEqual([['e3', 'delivered'], ['e2', 'failed'], ['e1', 'delivered']]);
    });
  });
}

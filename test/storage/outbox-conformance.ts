import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewDelivery, OutboxEvent, OutboxStore } from '../../src/storage/outbox.js';

/** One backend's fresh outbox database: `open()` may be called twice (two servers on one database). */
export interface OutboxFixture {
  open(): Promise<OutboxStore>;
  dispose(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const LEASE = 30_000;

export function event(id: string, session = 's1', body = `{"id":"${id}","note":"Zoë 🙂"}`): OutboxEvent {
  return { id, session, event: 'presence.update', body };
}

export function delivery(webhook: string, chat: string): NewDelivery {
  return { url: `http://${webhook}.test/hook`, webhookKey: webhook, orderKey: `${webhook}|${chat}`, target: JSON.stringify({ webhook }) };
}

function claimAt(store: OutboxStore, owner: string, now: number, limit = 100, exclude: string[] = []) {
  return store.claim({ owner, now, leaseMs: LEASE, limit, excludeWebhookKeys: exclude });
}

/** The outbox conformance suite: every backend passes exactly this. */
export function describeOutbox(name: string, createFixture: () => Promise<OutboxFixture>): void {
  describe(`outbox conformance: ${name}`, () => {
    let fixture: OutboxFixture;
    let store: OutboxStore;
    beforeEach(async () => {
      fixture = await createFixture();
      store = await fixture.open();
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('writes the event with its exact body and one delivery per webhook; idempotent on the event id', async () => {
      expect(await store.enqueue(event('e1'), [delivery('a', 'c1'), delivery('b', 'c1')], T0)).toBe(true);
      expect(await store.enqueue(event('e1'), [delivery('a', 'c1')], T0)).toBe(false);
      expect(await store.countPending()).toBe(2);
      const claimed = await claimAt(store, 'srv', T0);
      expect(claimed.map((d) => [d.eventId, d.webhookKey, d.body, d.attempts, d.target])).toEqual([
        ['e1', 'a', '{"id":"e1","note":"Zoë 🙂"}', 0, '{"webhook":"a"}'],
        ['e1', 'b', '{"id":"e1","note":"Zoë 🙂"}', 0, '{"webhook":"b"}'],
      ]);
    });

    it('counts pending deliveries per webhook with the oldest accept time, claimed ones included, finished ones not', async () => {
      expect(await store.pendingByWebhook()).toEqual([]);
      await store.enqueue(event('p1'), [delivery('a', 'c1'), delivery('b', 'c1')], T0);
      await store.enqueue(event('p2'), [delivery('a', 'c2')], T0 + 5);
      await store.enqueue(event('p3'), [delivery('a', 'c3')], T0 + 9);
      const claimed = await claimAt(store, 'srv', T0 + 10);
      const bHead = claimed.find((d) => d.webhookKey === 'b');
      if (bHead === undefined) throw new Error('b was not claimed');
      expect(await store.complete(bHead.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 11)).toBe(true);
      const aFirst = claimed.find((d) => d.eventId === 'p1' && d.webhookKey === 'a');
      if (aFirst === undefined) throw new Error('a|c1 was not claimed');
      expect(await store.complete(aFirst.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 12)).toBe(true);
      // a: p2 (claimed, still pending) and p3; b: nothing left.
      expect(await store.pendingByWebhook()).toEqual([{ webhookKey: 'a', url: 'http://a.test/hook', pending: 2, oldestCreatedAt: T0 + 5 }]);
    });

    it('concurrent accepts (one group commit) each learn their own result and keep the callers’ order per key', async () => {
      await store.enqueue(event('old'), [delivery('a', 'c3')], T0);
      const calls: [string, string][] = [];
      for (let i = 0; i < 30; i += 1) calls.push([`e${String(i).padStart(2, '0')}`, `c${i % 3}`]);
      // e05 again in the same burst (the first call wins) and an id accepted before.
      calls.splice(10, 0, ['e05', 'c0'], ['old', 'c1']);
      const results = await Promise.all(calls.map(([id, chat]) => store.enqueue(event(id), [delivery('a', chat), delivery('b', chat)], T0)));
      expect(results).toEqual(calls.map(([id], index) => index !== 10 && index !== 11 && id !== 'old'));
      expect(await store.countPending()).toBe(1 + 30 * 2);
      // Deliver everything, one head per key at a time: each key's events come in the order of the calls.
      const order = new Map<string, string[]>();
      for (let round = 0; round < 40; round += 1) {
        const claimed = await claimAt(store, 'srv', T0 + round);
        if (claimed.length === 0) break;
        // Only the head of each key is ever due, however the deliveries were written.
        expect(new Set(claimed.map((d) => d.orderKey)).size).toBe(claimed.length);
        for (const d of claimed) {
          const key = d.orderKey;
          order.set(key, [...(order.get(key) ?? []), d.eventId]);
          expect(await store.complete(d.id, 'srv', { kind: 'delivered', status: 200 }, T0 + round)).toBe(true);
        }
      }
      expect(await store.countPending()).toBe(0);
      const expected = (chat: string): string[] => calls.filter(([id, c], index) => c === chat && index !== 10 && index !== 11 && id !== 'old').map(([id]) => id);
      for (const webhook of ['a', 'b']) {
        expect(order.get(`${webhook}|c0`)).toEqual(expected('c0'));
        expect(order.get(`${webhook}|c1`)).toEqual(expected('c1'));
        expect(order.get(`${webhook}|c2`)).toEqual(expected('c2'));
      }
      expect(order.get('a|c3')).toEqual(['old']);
      // Ids follow the calls too (the operator view lists newest first).
      const listed = await store.list('s1', { status: null, limit: 100, before: null });
      expect(listed.filter((d) => d.url === 'http://a.test/hook').map((d) => d.eventId)).toEqual(
        ['old', ...calls.filter((_, index) => index !== 10 && index !== 11).map(([id]) => id).filter((id) => id !== 'old')].reverse(),
      );
    });

    it('concurrent outcomes (one group commit) each learn their own result; finished heads let their successors go', async () => {
      for (let i = 1; i <= 5; i += 1) await store.enqueue(event(`e${i}`), [delivery('a', `c${i}`)], T0);
      await store.enqueue(event('next1'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('next2'), [delivery('a', 'c2')], T0);
      await store.enqueue(event('next3'), [delivery('a', 'c3')], T0);
      const claimed = await claimAt(store, 'srv', T0);
      expect(claimed.map((d) => d.eventId)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
      const [e1, e2, e3, e4, e5] = claimed;
      if (e1 === undefined || e2 === undefined || e3 === undefined || e4 === undefined || e5 === undefined) throw new Error('no claim');
      const results = await Promise.all([
        store.complete(e1.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 1),
        store.complete(e2.id, 'srv', { kind: 'failed', error: 'HTTP 410', status: 410 }, T0 + 2),
        store.complete(e3.id, 'srv', { kind: 'retry', nextAttemptAt: T0 + 5000, error: 'network error: ECONNRESET', status: null }, T0 + 3),
        // Not this owner's claim, the same delivery twice, a delivery nobody claimed.
        store.complete(e4.id, 'other', { kind: 'delivered', status: 200 }, T0 + 4),
        store.complete(e5.id, 'srv', { kind: 'delivered', status: 201 }, T0 + 5),
        store.complete(e5.id, 'srv', { kind: 'delivered', status: 202 }, T0 + 6),
        store.complete(e5.id + 1000, 'srv', { kind: 'delivered', status: 200 }, T0 + 7),
      ]);
      expect(results).toEqual([true, true, true, false, true, false, false]);
      const all = await store.list('s1', { status: null, limit: 20, before: null });
      const byEvent = new Map(all.map((d) => [d.eventId, d]));
      expect(byEvent.get('e1')).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200, lastError: null, deliveredAt: T0 + 1, updatedAt: T0 + 1 });
      expect(byEvent.get('e2')).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 410, lastError: 'HTTP 410', deliveredAt: null, updatedAt: T0 + 2 });
      expect(byEvent.get('e3')).toMatchObject({ status: 'pending', attempts: 1, lastStatus: null, lastError: 'network error: ECONNRESET', nextAttemptAt: T0 + 5000 });
      expect(byEvent.get('e4')).toMatchObject({ status: 'pending', attempts: 0 });
      expect(byEvent.get('e5')).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 201, deliveredAt: T0 + 5 });
      // The successors of the finished heads are due from their outcome's time; the retried head still holds its own.
      expect(byEvent.get('next1')?.nextAttemptAt).toBe(T0 + 1);
      expect(byEvent.get('next2')?.nextAttemptAt).toBe(T0 + 2);
      expect(byEvent.get('next3')?.nextAttemptAt).toBeNull();
      expect((await claimAt(store, 'srv', T0 + 10)).map((d) => d.eventId)).toEqual(['next1', 'next2']);
      expect((await claimAt(store, 'srv', T0 + 5000)).map((d) => d.eventId)).toEqual(['e3']);
    });

    it('accepts on one server while another sends: every key keeps one head, in call order, and nothing is left behind', async () => {
      const other = await fixture.open();
      const calls: [string, string][] = [];
      const bursts = 60;
      const size = 4;
      for (let burst = 0; burst < bursts; burst += 1) for (let i = 0; i < size; i += 1) calls.push([`e${burst}-${i}`, `c${i % 4}`]);
      let produced = false;
      const producer = (async () => {
        for (let burst = 0; burst < bursts; burst += 1) {
          await Promise.all(calls.slice(burst * size, burst * size + size).map(([id, chat]) => store.enqueue(event(id), [delivery('a', chat)], T0)));
        }
        produced = true;
      })();
      const order = new Map<string, string[]>();
      for (let empty = 0; empty < 3; ) {
        const claimed = await claimAt(other, 'two', T0);
        expect(new Set(claimed.map((d) => d.orderKey)).size).toBe(claimed.length);
        const done = await Promise.all(claimed.map((d) => other.complete(d.id, 'two', { kind: 'delivered', status: 200 }, T0)));
        expect(done.every(Boolean)).toBe(true);
        for (const d of claimed) order.set(d.orderKey, [...(order.get(d.orderKey) ?? []), d.eventId]);
        if (claimed.length === 0 && produced) empty += 1;
        // Let the producer's writes in between.
        if (claimed.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await producer;
      expect(await store.countPending()).toBe(0);
      for (let i = 0; i < 4; i += 1) {
        expect(order.get(`a|c${i}`)).toEqual(calls.filter(([, chat]) => chat === `c${i}`).map(([id]) => id));
      }
    });

    it('an event no webhook wants is accepted with no delivery', async () => {
      expect(await store.enqueue(event('e1'), [], T0)).toBe(true);
      expect(await store.countPending()).toBe(0);
      expect(await store.nextDueAt()).toBeNull();
    });

    it('makes only the oldest pending delivery of an order key due; other keys are independent', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('e2'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('e3'), [delivery('a', 'c2')], T0);
      const first = await claimAt(store, 'srv', T0);
      expect(first.map((d) => d.eventId)).toEqual(['e1', 'e3']);
      expect(await claimAt(store, 'srv', T0)).toEqual([]);
      const e1 = first[0];
      if (e1 === undefined) throw new Error('unreachable');
      expect(await store.complete(e1.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 1)).toBe(true);
      expect((await claimAt(store, 'srv', T0 + 1)).map((d) => d.eventId)).toEqual(['e2']);
    });

    it('a retried head holds back its successors until it is due again; a failed one lets them go', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('e2'), [delivery('a', 'c1')], T0);
      const [e1] = await claimAt(store, 'srv', T0);
      if (e1 === undefined) throw new Error('no claim');
      await store.complete(e1.id, 'srv', { kind: 'retry', nextAttemptAt: T0 + 5000, error: 'HTTP 503', status: 503 }, T0);
      expect(await claimAt(store, 'srv', T0 + 4999)).toEqual([]);
      expect(await store.nextDueAt()).toBe(T0 + 5000);
      const [again] = await claimAt(store, 'srv', T0 + 5000);
      expect(again?.eventId).toBe('e1');
      expect(again?.attempts).toBe(1);
      if (again === undefined) throw new Error('no claim');
      await store.complete(again.id, 'srv', { kind: 'failed', error: 'HTTP 410', status: 410 }, T0 + 5000);
      expect((await claimAt(store, 'srv', T0 + 5000)).map((d) => d.eventId)).toEqual(['e2']);
      const failed = await store.list('s1', { status: 'failed', limit: 10, before: null });
      expect(failed).toMatchObject([{ eventId: 'e1', status: 'failed', attempts: 2, lastError: 'HTTP 410', lastStatus: 410, nextAttemptAt: null }]);
    });

    it('a claim is exclusive until its lease runs out; then another server takes it and the first cannot complete', async () => {
      const other = await fixture.open();
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      const [mine] = await claimAt(store, 'one', T0);
      expect(mine?.eventId).toBe('e1');
      expect(await claimAt(other, 'two', T0 + LEASE - 1)).toEqual([]);
      expect(await store.nextDueAt()).toBe(T0 + LEASE);
      const [theirs] = await claimAt(other, 'two', T0 + LEASE);
      expect(theirs?.id).toBe(mine?.id);
      if (mine === undefined || theirs === undefined) throw new Error('no claim');
      expect(await store.complete(mine.id, 'one', { kind: 'delivered', status: 200 }, T0 + LEASE)).toBe(false);
      expect(await other.complete(theirs.id, 'two', { kind: 'delivered', status: 204 }, T0 + LEASE)).toBe(true);
      expect(await store.list('s1', { status: 'delivered', limit: 10, before: null })).toMatchObject([
        { id: mine.id, attempts: 1, lastStatus: 204, deliveredAt: T0 + LEASE },
      ]);
    });

    it('concurrent claims from two servers never hand out one delivery twice', async () => {
      const other = await fixture.open();
      for (let i = 0; i < 40; i += 1) await store.enqueue(event(`e${i}`), [delivery('a', `c${i}`)], T0);
      const [x, y] = await Promise.all([claimAt(store, 'one', T0, 25), claimAt(other, 'two', T0, 25)]);
      const ids = [...(x ?? []), ...(y ?? [])].map((d) => d.id);
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
    });

    it('skips webhooks the caller has no slot for, and release gives a claim back', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1'), delivery('b', 'c1')], T0);
      const claimed = await claimAt(store, 'srv', T0, 10, ['a']);
      expect(claimed.map((d) => d.webhookKey)).toEqual(['b']);
      const [a] = await claimAt(store, 'srv', T0);
      if (a === undefined) throw new Error('no claim');
      await store.release([a.id], 'srv');
      const [again] = await claimAt(store, 'srv', T0);
      expect(again?.id).toBe(a.id);
      expect(again?.attempts).toBe(0);
    });

    it('with slots, claims at most the free slots of each webhook among the first `limit` due, and leaves the rest unclaimed', async () => {
      for (let i = 0; i < 6; i += 1) await store.enqueue(event(`e${i}`), [delivery('a', `c${i}`), delivery('b', `c${i}`)], T0 + i);
      await store.enqueue(event('e6'), [delivery('c', 'c6')], T0 + 6);
      // a: 3 of 4 slots in use → 1; b: none in use → 4; c is past the first 10 due (the limit).
      const claimed = await store.claim({ owner: 'srv', now: T0 + 10, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [], slots: { perWebhook: 4, inFlight: { a: 3 } } });
      expect(claimed.map((d) => [d.webhookKey, d.eventId])).toEqual([
        ['a', 'e0'],
        ['b', 'e0'],
        ['b', 'e1'],
        ['b', 'e2'],
        ['b', 'e3'],
      ]);
      // What was left out is not claimed: another owner gets it at once, oldest first.
      const rest = await claimAt(store, 'other', T0 + 10);
      expect(rest.map((d) => `${d.webhookKey}${d.eventId}`).sort()).toEqual(['ae1', 'ae2', 'ae3', 'ae4', 'ae5', 'be4', 'be5', 'ce6']);
      // A webhook with every slot in use gets nothing.
      await store.enqueue(event('e7'), [delivery('d', 'c7')], T0);
      expect(await store.claim({ owner: 'srv', now: T0 + 10, leaseMs: LEASE, limit: 10, excludeWebhookKeys: [], slots: { perWebhook: 2, inFlight: { d: 2 } } })).toEqual([]);
    });

    it('recoverClaims frees a restarted server’s claims at once', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      await claimAt(store, 'srv', T0);
      expect(await store.recoverClaims('srv')).toBe(1);
      expect((await claimAt(store, 'srv', T0)).map((d) => d.eventId)).toEqual(['e1']);
    });

    it('enforceCap drops the oldest unclaimed pending deliveries and promotes their successors', async () => {
      for (let i = 1; i <= 5; i += 1) await store.enqueue(event(`e${i}`), [delivery('a', 'c1')], T0);
      expect(await store.enforceCap(10, T0)).toBe(0);
      expect(await store.enforceCap(2, T0)).toBe(3);
      expect(await store.countPending()).toBe(2);
      const dropped = await store.list('s1', { status: 'dropped', limit: 10, before: null });
      expect(dropped.map((d) => d.eventId)).toEqual(['e3', 'e2', 'e1']);
      expect(dropped[0]?.lastError).toMatch(/at most 2 pending/);
      expect((await claimAt(store, 'srv', T0)).map((d) => d.eventId)).toEqual(['e4']);
    });

    it('lists newest first, by status, with paging', async () => {
      for (let i = 1; i <= 4; i += 1) await store.enqueue(event(`e${i}`), [delivery('a', `c${i}`)], T0 + i);
      await store.enqueue(event('x1', 'other'), [delivery('a', 'c1')], T0);
      const page1 = await store.list('s1', { status: null, limit: 2, before: null });
      expect(page1.map((d) => d.eventId)).toEqual(['e4', 'e3']);
      const page2 = await store.list('s1', { status: 'pending', limit: 10, before: page1[1]?.id ?? null });
      expect(page2.map((d) => d.eventId)).toEqual(['e2', 'e1']);
      expect(page2[0]).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: T0 + 2, url: 'http://a.test/hook', event: 'presence.update' });
      expect(await store.list('s1', { status: 'failed', limit: 10, before: null })).toEqual([]);
    });

    it('replays a finished delivery as a new pending one, behind the pending ones of its order key', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      const [e1] = await claimAt(store, 'srv', T0);
      if (e1 === undefined) throw new Error('no claim');
      await store.complete(e1.id, 'srv', { kind: 'failed', error: 'HTTP 404', status: 404 }, T0);
      await store.enqueue(event('e2'), [delivery('a', 'c1')], T0);
      expect(await store.replay('s1', e1.id, T0 + 1)).toMatchObject({ kind: 'replayed' });
      expect(await store.replay('other', e1.id, T0 + 1)).toEqual({ kind: 'not-found' });
      expect(await store.replay('s1', 999_999, T0 + 1)).toEqual({ kind: 'not-found' });
      const [e2] = await claimAt(store, 'srv', T0 + 1);
      expect(e2?.eventId).toBe('e2');
      if (e2 === undefined) throw new Error('no claim');
      expect(await store.replay('s1', e2.id, T0 + 1)).toEqual({ kind: 'pending' });
      await store.complete(e2.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 2);
      const [replayed] = await claimAt(store, 'srv', T0 + 2);
      expect(replayed).toMatchObject({ eventId: 'e1', attempts: 0, body: '{"id":"e1","note":"Zoë 🙂"}' });
    });

    it('prunes finished deliveries and the events left without any', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('e2'), [delivery('a', 'c2')], T0);
      const claimed = await claimAt(store, 'srv', T0);
      const e1 = claimed.find((d) => d.eventId === 'e1');
      if (e1 === undefined) throw new Error('no claim');
      await store.complete(e1.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 10);
      expect(await store.prune(T0 + 10, 100)).toBe(0);
      expect(await store.prune(T0 + 11, 100)).toBe(1);
      expect((await store.list('s1', { status: null, limit: 10, before: null })).map((d) => d.eventId)).toEqual(['e2']);
      // The pruned event is gone: the same id is accepted anew.
      expect(await store.enqueue(event('e1'), [], T0 + 20)).toBe(true);
      expect(await store.enqueue(event('e2'), [], T0 + 20)).toBe(false);
    });

    it('prunes in batches of at most `limit`', async () => {
      for (let i = 0; i < 5; i += 1) await store.enqueue(event(`e${i}`), [delivery('a', `c${i}`)], T0);
      for (const claimed of await claimAt(store, 'srv', T0)) {
        await store.complete(claimed.id, 'srv', { kind: 'delivered', status: 200 }, T0);
      }
      expect(await store.prune(T0 + 1, 2)).toBe(2);
      expect(await store.prune(T0 + 1, 2)).toBe(2);
      expect(await store.prune(T0 + 1, 2)).toBe(1);
      expect(await store.prune(T0 + 1, 2)).toBe(0);
      for (let i = 0; i < 5; i += 1) expect(await store.enqueue(event(`e${i}`), [], T0 + 2)).toBe(true);
    });

    it('cancelSession ends a deleted session’s deliveries: pending (claimed or not), failed and dropped become cancelled, never sent nor replayed', async () => {
      await store.enqueue(event('e1'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('e2'), [delivery('a', 'c1')], T0);
      await store.enqueue(event('e3'), [delivery('b', 'c2')], T0);
      await store.enqueue(event('d1'), [delivery('c', 'c3')], T0);
      // Another session's delivery waits behind s1's head on the same order key.
      await store.enqueue(event('o1', 's2'), [delivery('a', 'c1')], T0);
      const claimed = await claimAt(store, 'srv', T0);
      const byEvent = new Map(claimed.map((d) => [d.eventId, d]));
      expect([...byEvent.keys()].sort()).toEqual(['d1', 'e1', 'e3']);
      const e1 = byEvent.get('e1')!;
      expect(await store.complete(byEvent.get('e3')!.id, 'srv', { kind: 'failed', error: 'HTTP 404', status: 404 }, T0 + 1)).toBe(true);
      expect(await store.complete(byEvent.get('d1')!.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 1)).toBe(true);

      expect(await store.cancelSession('s1', T0 + 2)).toBe(3);
      // The claim in flight lost its delivery: its outcome changes nothing.
      expect(await store.complete(e1.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 3)).toBe(false);
      const listed = await store.list('s1', { status: null, limit: 10, before: null });
      expect(listed.map((d) => [d.eventId, d.status, d.nextAttemptAt])).toEqual([
        ['d1', 'delivered', null],
        ['e3', 'cancelled', null],
        ['e2', 'cancelled', null],
        ['e1', 'cancelled', null],
      ]);
      expect(listed.find((d) => d.eventId === 'e1')?.lastError).toBe('cancelled: its session was deleted');
      expect(listed.find((d) => d.eventId === 'e3')?.lastError).toBe('cancelled: its session was deleted (was failed: HTTP 404)');
      expect((await store.list('s1', { status: 'cancelled', limit: 10, before: null })).map((d) => d.eventId)).toEqual(['e3', 'e2', 'e1']);
      for (const d of listed.filter((d) => d.status === 'cancelled')) expect(await store.replay('s1', d.id, T0 + 4)).toEqual({ kind: 'cancelled' });

      // Nothing of s1 is due any more; s2's delivery behind it is, at once.
      expect(await store.countPending()).toBe(1);
      const next = await claimAt(store, 'srv', T0 + 5);
      expect(next.map((d) => [d.eventId, d.session])).toEqual([['o1', 's2']]);
      expect(await store.cancelSession('s1', T0 + 6)).toBe(0);
      // Cancelled deliveries are finished: pruned like the others.
      expect(await store.prune(T0 + 100, 100)).toBe(4);
    });
  });
}

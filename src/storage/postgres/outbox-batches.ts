import type { AttemptOutcome, NewDelivery, OutboxEvent } from '../outbox.js';
import type { PgPool } from './database.js';

/** One `OutboxStore.enqueue` call, waiting for the group commit (group-commit.ts) to take its batch. */
export interface EnqueueItem {
  readonly event: OutboxEvent;
  readonly deliveries: readonly NewDelivery[];
  readonly now: number;
}

/** One `OutboxStore.complete` call, likewise. */
export interface CompleteItem {
  readonly id: number;
  readonly owner: string;
  readonly outcome: AttemptOutcome;
  readonly now: number;
}

/** Where each distinct key first appears: a later duplicate in a batch behaves as the same call made after it. */
function firstIndexes<K>(keys: readonly K[]): Map<K, number> {
  const firsts = new Map<K, number>();
  keys.forEach((key, index) => {
    if (!firsts.has(key)) firsts.set(key, index);
  });
  return firsts;
}

/**
 * Events and their deliveries, many calls at once, in one round trip: `outbox_enqueue_batch`
 * (outbox-migration.ts) takes the keys' locks, then writes. A delivery is the head of its order
 * key (due now) when no delivery of that key is pending already and none comes before it in this
 * batch; ids follow the callers' order, so the oldest pending delivery of a key is still its head.
 * Its commit waits for the disk: an accepted event is on disk.
 */
export async function enqueueBatch(pool: PgPool, items: readonly EnqueueItem[]): Promise<boolean[]> {
  const firsts = firstIndexes(items.map((item) => item.event.id));
  const candidates = items.filter((item, index) => firsts.get(item.event.id) === index);
  const rows = candidates.flatMap((item) => item.deliveries.map((d) => ({ item, d })));
  const inserted = await pool.query<{ id: string }>(
    `SELECT id FROM outbox_enqueue_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[]) AS id`,
    [
      candidates.map((item) => item.event.id),
      candidates.map((item) => item.event.session),
      candidates.map((item) => item.event.event),
      candidates.map((item) => item.event.body),
      candidates.map((item) => item.now),
      rows.map(({ item }) => item.event.id),
      rows.map(({ item }) => item.event.session),
      rows.map(({ item }) => item.event.event),
      rows.map(({ d }) => d.url),
      rows.map(({ d }) => d.webhookKey),
      rows.map(({ d }) => d.orderKey),
      rows.map(({ d }) => d.target),
      rows.map(({ item }) => item.now),
    ],
  );
  const created = new Set(inserted.rows.map((row) => row.id));
  return items.map((item, index) => firsts.get(item.event.id) === index && created.has(item.event.id));
}

/**
 * Outcomes of many attempts at once, in one round trip: `outbox_complete_batch` locks the order
 * keys of the finished ones, records every outcome (only where the claim is still the caller's)
 * and makes the successor of each finished head due: the oldest pending delivery of its key. It
 * commits without waiting for the disk (see outbox.ts).
 */
export async function completeBatch(pool: PgPool, items: readonly CompleteItem[]): Promise<boolean[]> {
  const firsts = firstIndexes(items.map((item) => item.id));
  const unique = items.filter((item, index) => firsts.get(item.id) === index);
  const done = await pool.query<{ id: string }>(
    'SELECT id FROM outbox_complete_batch($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[]) AS id',
    [
    unique.map((item) => item.id),
    unique.map((item) => item.owner),
    unique.map((item) => item.outcome.kind),
    unique.map((item) => item.outcome.status),
    unique.map((item) => (item.outcome.kind === 'delivered' ? null : item.outcome.error)),
    unique.map((item) => (item.outcome.kind === 'retry' ? item.outcome.nextAttemptAt : null)),
    unique.map((item) => item.now),
    unique.filter((item) => item.outcome.kind !== 'retry').map((item) => item.id),
  ]);
  const recorded = new Set(done.rows.map((row) => Number(row.id)));
  return items.map((item, index) => firsts.get(item.id) === index && recorded.has(item.id));
}

import type { AttemptOutcome, ClaimedDelivery, ClaimedRow, CompleteClaimed, EnqueueClaimed, HandOffClaim, NewDelivery, OutboxEvent } from '../outbox.js';
import { claimedFromRow } from '../outbox.js';
import type { PgPool } from './database.js';

/** One `OutboxStore.enqueue` call, waiting for the group commit (group-commit.ts) to take its batch. */
export interface EnqueueItem {
  readonly event: OutboxEvent;
  readonly deliveries: readonly NewDelivery[];
  readonly now: number;
  /** `enqueueAndClaim`'s: the deliveries to claim for the caller when they are due. */
  readonly handOff?: HandOffClaim;
}

/** One `OutboxStore.complete` call, likewise. */
export interface CompleteItem {
  readonly id: number;
  readonly owner: string;
  readonly outcome: AttemptOutcome;
  readonly now: number;
  /** `completeAndClaim`'s: claim the order key's successor for `owner` this long. */
  readonly leaseMs?: number;
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
 * A head its caller's hand-off takes is written claimed. The commit waits for the disk: an
 * accepted event is on disk, and so is a claim.
 */
export async function enqueueBatch(pool: PgPool, items: readonly EnqueueItem[]): Promise<EnqueueClaimed[]> {
  const firsts = firstIndexes(items.map((item) => item.event.id));
  const candidates = items.filter((item, index) => firsts.get(item.event.id) === index);
  const rows = candidates.flatMap((item) => item.deliveries.map((d, index) => ({ item, d, index, take: item.handOff?.take[index] === true })));
  const answer = await pool.query<{ result: { events: string[]; written: [number, boolean][] } }>(
    `SELECT outbox_enqueue_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::bigint[]) AS result`,
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
      rows.map(({ item, take }) => (take ? (item.handOff?.owner ?? null) : null)),
      rows.map(({ item, take }) => (take ? item.now + (item.handOff?.leaseMs ?? 0) : 0)),
    ],
  );
  const result = answer.rows[0]?.result ?? { events: [], written: [] };
  const created = new Set(result.events);
  // Ids follow the rows' order: the n-th delivery written is the n-th row whose event was new.
  const claims = new Map<EnqueueItem, (ClaimedDelivery | null)[]>();
  let next = 0;
  for (const { item, d, index } of rows) {
    if (!created.has(item.event.id)) continue;
    const written = result.written[next];
    next += 1;
    if (written?.[1] !== true) continue;
    let claimed = claims.get(item);
    if (claimed === undefined) {
      claimed = item.deliveries.map(() => null);
      claims.set(item, claimed);
    }
    claimed[index] = {
      id: written[0],
      eventId: item.event.id,
      session: item.event.session,
      event: item.event.event,
      url: d.url,
      webhookKey: d.webhookKey,
      orderKey: d.orderKey,
      target: d.target,
      attempts: 0,
      body: item.event.body,
    };
  }
  return items.map((item, index) => {
    const accepted = firsts.get(item.event.id) === index && created.has(item.event.id);
    return { accepted, claimed: (accepted ? claims.get(item) : undefined) ?? item.deliveries.map(() => null) };
  });
}

interface SuccessorRow extends ClaimedRow {
  readonly done_id: number;
}

/**
 * Outcomes of many attempts at once, in one round trip: `outbox_complete_batch` locks the order
 * keys of the finished ones, records every outcome (only where the claim is still the caller's)
 * and makes the successor of each finished head due: the oldest pending delivery of its key,
 * claimed for its caller when it asked (`leaseMs`). It commits without waiting for the disk
 * unless it claimed a successor (see outbox.ts).
 */
export async function completeBatch(pool: PgPool, items: readonly CompleteItem[]): Promise<CompleteClaimed[]> {
  const firsts = firstIndexes(items.map((item) => item.id));
  const unique = items.filter((item, index) => firsts.get(item.id) === index);
  const claims = (item: CompleteItem): boolean => item.leaseMs !== undefined && item.outcome.kind !== 'retry';
  const answer = await pool.query<{ result: { done: number[]; successors: SuccessorRow[] } }>(
    `SELECT outbox_complete_batch($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[], $7::bigint[],
       $8::bigint[], $9::text[], $10::bigint[]) AS result`,
    [
      unique.map((item) => item.id),
      unique.map((item) => item.owner),
      unique.map((item) => item.outcome.kind),
      unique.map((item) => item.outcome.status),
      unique.map((item) => (item.outcome.kind === 'delivered' ? null : item.outcome.error)),
      unique.map((item) => (item.outcome.kind === 'retry' ? item.outcome.nextAttemptAt : null)),
      unique.map((item) => item.now),
      unique.filter((item) => item.outcome.kind !== 'retry').map((item) => item.id),
      unique.map((item) => (claims(item) ? item.owner : null)),
      unique.map((item) => (claims(item) ? item.now + (item.leaseMs ?? 0) : null)),
    ],
  );
  const result = answer.rows[0]?.result ?? { done: [], successors: [] };
  const recorded = new Set(result.done);
  const successors = new Map(
    result.successors.map((row): [number, ClaimedDelivery] => [row.done_id, claimedFromRow(row)]),
  );
  return items.map((item, index) => {
    const own = firsts.get(item.id) === index;
    return { recorded: own && recorded.has(item.id), successor: (own ? successors.get(item.id) : undefined) ?? null };
  });
}

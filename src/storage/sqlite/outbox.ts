import type {
  AttemptOutcome,
  ClaimedDelivery,
  ClaimRequest,
  CompleteClaimed,
  DeliveryRecord,
  DeliveryStatus,
  EnqueueClaimed,
  HandOffClaim,
  OutboxStore,
  ReplayResult,
} from '../outbox.js';
import { claimedFromRow } from '../outbox.js';
import { CANCELLED_ERROR } from '../outbox.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';
import type { GroupCommit } from './group-commit.js';
import { createGroupCommit } from './group-commit.js';

interface DeliveryRow {
  id: number;
  event_id: string;
  session: string;
  event: string;
  url: string;
  webhook_key: string;
  order_key: string;
  target: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number | null;
  claimed_by: string | null;
  claim_until: number;
  last_error: string | null;
  last_status: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

function toRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    event: row.event,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    lastStatus: row.last_status,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
  };
}

/**
 * The outbox on the embedded database. SQLite has one writer at a time, so a transaction alone
 * keeps the head-of-order-key bookkeeping consistent; the lease still guards against a second
 * process on the same file.
 */
/** `grouped`: the database's group commit (open.ts), shared with the presence store's puts. */
export function createSqliteOutboxStore(db: SqliteDatabase, grouped: GroupCommit = createGroupCommit(db)): OutboxStore {
  const insertEvent = db.prepare<[string, string, string, string, number]>(
    'INSERT INTO outbox_events (id, session, event, body, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
  );
  const hasPending = db.prepare<[string], { id: number }>(
    "SELECT id FROM outbox_deliveries WHERE order_key = ? AND status = 'pending' LIMIT 1",
  );
  const insertDelivery = db.prepare<[string, string, string, string, string, string, string, number | null, number, number]>(
    `INSERT INTO outbox_deliveries (event_id, session, event, url, webhook_key, order_key, target, status, next_attempt_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
  );
  // Hand-off: the same row, claimed as it is written (it is due: nothing of its order key is pending).
  const insertClaimed = db.prepare<[string, string, string, string, string, string, string, number, string, number, number, number]>(
    `INSERT INTO outbox_deliveries (event_id, session, event, url, webhook_key, order_key, target, status, next_attempt_at, claimed_by, claim_until, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
  );
  // Hand-off: the successor of a finished head becomes due now and is claimed by the caller.
  const promoteClaimed = db.prepare<
    [{ now: number; key: string; owner: string; until: number }],
    Pick<DeliveryRow, 'id' | 'event_id' | 'session' | 'event' | 'url' | 'webhook_key' | 'order_key' | 'target' | 'attempts'> & { body: string }
  >(
    `UPDATE outbox_deliveries SET next_attempt_at = @now, claimed_by = @owner, claim_until = @until
     WHERE id = (SELECT MIN(id) FROM outbox_deliveries WHERE order_key = @key AND status = 'pending') AND next_attempt_at IS NULL
     RETURNING id, event_id, session, event, url, webhook_key, order_key, target, attempts,
       (SELECT body FROM outbox_events e WHERE e.id = event_id) AS body`,
  );
  // The successor of a finished head becomes due now.
  const promoteHead = db.prepare<[number, string]>(
    `UPDATE outbox_deliveries SET next_attempt_at = ?
     WHERE id = (SELECT MIN(id) FROM outbox_deliveries WHERE order_key = ? AND status = 'pending') AND next_attempt_at IS NULL`,
  );
  // The first @limit due deliveries: an index range, however large the backlog.
  const dueCandidates = db.prepare<[{ now: number; exclude: string; limit: number }], { id: number; webhook_key: string }>(
    `SELECT id, webhook_key FROM outbox_deliveries
     WHERE status = 'pending' AND next_attempt_at IS NOT NULL AND next_attempt_at <= @now AND claim_until <= @now
       AND webhook_key NOT IN (SELECT value FROM json_each(@exclude))
     ORDER BY next_attempt_at, id LIMIT @limit`,
  );
  const claimIds = db.prepare<
    [{ owner: string; until: number; ids: string }],
    Pick<DeliveryRow, 'id' | 'event_id' | 'session' | 'event' | 'url' | 'webhook_key' | 'order_key' | 'target' | 'attempts'> & { body: string }
  >(
    `UPDATE outbox_deliveries SET claimed_by = @owner, claim_until = @until
     WHERE id IN (SELECT value FROM json_each(@ids))
     -- Only what a send needs: every column of each row as a JS object costs more than the update.
     RETURNING id, event_id, session, event, url, webhook_key, order_key, target, attempts,
       (SELECT body FROM outbox_events e WHERE e.id = event_id) AS body`,
  );
  // Each outcome updates only the caller's own live claim, and says which order key it freed.
  const markDelivered = db.prepare<[{ status: number; now: number; id: number; owner: string }], { order_key: string }>(
    `UPDATE outbox_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = @status, last_error = NULL,
       next_attempt_at = NULL, claimed_by = NULL, claim_until = 0, delivered_at = @now, updated_at = @now
     WHERE id = @id AND claimed_by = @owner AND status = 'pending' RETURNING order_key`,
  );
  const markRetry = db.prepare<[{ at: number; error: string; status: number | null; now: number; id: number; owner: string }]>(
    `UPDATE outbox_deliveries SET attempts = attempts + 1, next_attempt_at = @at, last_error = @error, last_status = @status,
       claimed_by = NULL, claim_until = 0, updated_at = @now
     WHERE id = @id AND claimed_by = @owner AND status = 'pending'`,
  );
  const markFailed = db.prepare<[{ error: string; status: number | null; now: number; id: number; owner: string }], { order_key: string }>(
    `UPDATE outbox_deliveries SET status = 'failed', attempts = attempts + 1, last_error = @error, last_status = @status,
       next_attempt_at = NULL, claimed_by = NULL, claim_until = 0, updated_at = @now
     WHERE id = @id AND claimed_by = @owner AND status = 'pending' RETURNING order_key`,
  );
  const releaseOne = db.prepare<[number, string]>(
    "UPDATE outbox_deliveries SET claimed_by = NULL, claim_until = 0 WHERE id = ? AND claimed_by = ? AND status = 'pending'",
  );
  // A finished one keeps what it was in its error (failed, dropped), so nothing of the history is lost.
  const cancelOfSession = db.prepare<[{ session: string; error: string; now: number }], { order_key: string }>(
    `UPDATE outbox_deliveries SET status = 'cancelled',
       last_error = CASE status WHEN 'pending' THEN @error ELSE @error || ' (was ' || status || COALESCE(': ' || last_error, '') || ')' END,
       next_attempt_at = NULL, claimed_by = NULL, claim_until = 0, updated_at = @now
     WHERE session = @session AND status IN ('pending', 'failed', 'dropped')
     RETURNING order_key`,
  );
  const releaseAll = db.prepare("UPDATE outbox_deliveries SET claimed_by = NULL, claim_until = 0 WHERE claimed_by IS NOT NULL");
  const nextDue = db.prepare<[], { at: number | null }>(
    // A claimed head becomes claimable again when its lease runs out (its server died).
    `SELECT MIN(MAX(next_attempt_at, claim_until)) AS at FROM outbox_deliveries
     WHERE status = 'pending' AND next_attempt_at IS NOT NULL`,
  );
  const countPending = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox_deliveries WHERE status = 'pending'");
  const pendingByWebhook = db.prepare<[], { webhook_key: string; url: string; n: number; oldest: number }>(
    "SELECT webhook_key, MIN(url) AS url, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_deliveries WHERE status = 'pending' GROUP BY webhook_key",
  );
  const dropOldest = db.prepare<[{ error: string; now: number; count: number }], { order_key: string; next_attempt_at: number | null }>(
    `UPDATE outbox_deliveries SET status = 'dropped', last_error = @error, claimed_by = NULL, claim_until = 0, updated_at = @now
     WHERE id IN (SELECT id FROM outbox_deliveries WHERE status = 'pending' AND claim_until <= @now ORDER BY id LIMIT @count)
     RETURNING order_key, next_attempt_at`,
  );
  const listAll = db.prepare<[string, number, number], DeliveryRow>(
    'SELECT * FROM outbox_deliveries WHERE session = ? AND id < ? ORDER BY id DESC LIMIT ?',
  );
  const listByStatus = db.prepare<[string, string, number, number], DeliveryRow>(
    'SELECT * FROM outbox_deliveries WHERE session = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT ?',
  );
  const getInSession = db.prepare<[number, string], DeliveryRow>('SELECT * FROM outbox_deliveries WHERE id = ? AND session = ?');
  const pruneDeliveries = db.prepare<[number, number], { event_id: string }>(
    `DELETE FROM outbox_deliveries WHERE id IN (
       SELECT id FROM outbox_deliveries WHERE status <> 'pending' AND updated_at < ? LIMIT ?)
     RETURNING event_id`,
  );
  // Only events whose deliveries were just deleted are looked at: never a scan of every event.
  const pruneEvent = db.prepare<[{ id: string }]>(
    'DELETE FROM outbox_events WHERE id = @id AND NOT EXISTS (SELECT 1 FROM outbox_deliveries d WHERE d.event_id = @id)',
  );

  // These run inside the group commit's transaction (see createGroupCommit).
  // `enqueue` is this without a hand-off (nothing claimed).
  const enqueueAndClaim = (
    event: Parameters<OutboxStore['enqueue']>[0],
    deliveries: Parameters<OutboxStore['enqueue']>[1],
    now: number,
    handOff: HandOffClaim | null,
  ): EnqueueClaimed => {
    if (insertEvent.run(event.id, event.session, event.event, event.body, now).changes === 0) return { accepted: false, claimed: deliveries.map(() => null) };
    const claimed = deliveries.map((d, index): ClaimedDelivery | null => {
      const behind = hasPending.get(d.orderKey) !== undefined;
      if (behind || handOff?.take[index] !== true) {
        insertDelivery.run(event.id, event.session, event.event, d.url, d.webhookKey, d.orderKey, d.target, behind ? null : now, now, now);
        return null;
      }
      const { lastInsertRowid } = insertClaimed.run(
        event.id, event.session, event.event, d.url, d.webhookKey, d.orderKey, d.target, now, handOff.owner, now + handOff.leaseMs, now, now,
      );
      return {
        id: Number(lastInsertRowid), eventId: event.id, session: event.session, event: event.event, url: d.url,
        webhookKey: d.webhookKey, orderKey: d.orderKey, target: d.target, attempts: 0, body: event.body,
      };
    });
    return { accepted: true, claimed };
  };

  // Read and claim in one immediate transaction (the group's): no other process on the file can claim in between.
  // The per-webhook slots are counted here rather than in SQL (a window over the candidates cost
  // more than the whole claim).
  const claim = (request: ClaimRequest) => {
    const candidates = dueCandidates.all({ now: request.now, exclude: JSON.stringify(request.excludeWebhookKeys), limit: request.limit });
    const slots = request.slots;
    const taken = new Map<string, number>();
    const ids: number[] = [];
    for (const candidate of candidates) {
      if (slots !== undefined) {
        const used = taken.get(candidate.webhook_key) ?? (Object.hasOwn(slots.inFlight, candidate.webhook_key) ? slots.inFlight[candidate.webhook_key] : 0) ?? 0;
        if (used >= slots.perWebhook) continue;
        taken.set(candidate.webhook_key, used + 1);
      }
      ids.push(candidate.id);
    }
    return ids.length === 0 ? [] : claimIds.all({ owner: request.owner, until: request.now + request.leaseMs, ids: JSON.stringify(ids) });
  };

  // `complete` is this with `leaseMs` null: the successor is made due, not claimed.
  const completeAndClaim = (id: number, owner: string, outcome: AttemptOutcome, now: number, leaseMs: number | null): CompleteClaimed => {
    if (outcome.kind === 'retry') {
      // The head stays the head: nothing to promote.
      const recorded = markRetry.run({ at: outcome.nextAttemptAt, error: outcome.error, status: outcome.status, now, id, owner }).changes === 1;
      return { recorded, successor: null };
    }
    const finished =
      outcome.kind === 'delivered'
        ? markDelivered.get({ status: outcome.status, now, id, owner })
        : markFailed.get({ error: outcome.error, status: outcome.status, now, id, owner });
    if (finished === undefined) return { recorded: false, successor: null };
    if (leaseMs === null) {
      promoteHead.run(now, finished.order_key);
      return { recorded: true, successor: null };
    }
    const successor = promoteClaimed.get({ now, key: finished.order_key, owner, until: now + leaseMs });
    return { recorded: true, successor: successor === undefined ? null : claimedFromRow(successor) };
  };

  const enforceCap = db.transaction((maxPending: number, now: number): number => {
    const pending = countPending.get()?.n ?? 0;
    if (pending <= maxPending) return 0;
    const dropped = dropOldest.all({ error: `dropped: the outbox holds at most ${maxPending} pending deliveries`, now, count: pending - maxPending });
    const keys = new Set(dropped.filter((row) => row.next_attempt_at !== null).map((row) => row.order_key));
    for (const key of keys) promoteHead.run(now, key);
    return dropped.length;
  });

  const replay = db.transaction((session: string, id: number, now: number): ReplayResult => {
    const row = getInSession.get(id, session);
    if (row === undefined) return { kind: 'not-found' };
    if (row.status === 'pending') return { kind: 'pending' };
    if (row.status === 'cancelled') return { kind: 'cancelled' };
    const behind = hasPending.get(row.order_key) !== undefined;
    const inserted = insertDelivery.run(
      row.event_id, row.session, row.event, row.url, row.webhook_key, row.order_key, row.target, behind ? null : now, now, now,
    );
    return { kind: 'replayed', id: Number(inserted.lastInsertRowid) };
  });

  const cancelSession = (session: string, now: number): number => {
    const cancelled = cancelOfSession.all({ session, error: CANCELLED_ERROR, now });
    // Order keys hold one session's deliveries, so none is left pending behind these; promoting is
    // what keeps a key moving should one ever be shared.
    for (const key of new Set(cancelled.map((row) => row.order_key))) promoteHead.run(now, key);
    return cancelled.length;
  };

  const releaseMany = (ids: readonly number[], owner: string): void => {
    for (const id of ids) releaseOne.run(id, owner);
  };

  const prune = db.transaction((before: number, limit: number): number => {
    const deleted = pruneDeliveries.all(before, limit);
    for (const id of new Set(deleted.map((row) => row.event_id))) pruneEvent.run({ id });
    return deleted.length;
  });

  const claimGrouped = grouped((request: ClaimRequest) => claim(request).map(claimedFromRow).sort((a, b) => a.id - b.id));
  const releaseGrouped = grouped((ids: readonly number[], owner: string) => releaseMany(ids, owner));

  return {
    enqueue: grouped((event, deliveries, now: number) => enqueueAndClaim(event, deliveries, now, null).accepted),
    enqueueAndClaim: grouped(enqueueAndClaim),
    completeAndClaim: grouped(completeAndClaim),
    claim: claimGrouped,
    complete: grouped((id: number, owner: string, outcome: AttemptOutcome, now: number) => completeAndClaim(id, owner, outcome, now, null).recorded),
    release: (ids, owner) => (ids.length > 0 ? releaseGrouped(ids, owner) : Promise.resolve()),
    // One server per SQLite file: at startup nothing can be in flight, whoever claimed it.
    recoverClaims: () => settle(() => releaseAll.run().changes),
    nextDueAt: () => settle(() => nextDue.get()?.at ?? null),
    countPending: () => settle(() => countPending.get()?.n ?? 0),
    pendingByWebhook: () =>
      settle(() => pendingByWebhook.all().map((row) => ({ webhookKey: row.webhook_key, url: row.url, pending: row.n, oldestCreatedAt: row.oldest }))),
    enforceCap: (maxPending, now) => settle(() => enforceCap.immediate(maxPending, now)),
    list: (session, query) =>
      settle(() => {
        const before = query.before ?? Number.MAX_SAFE_INTEGER;
        const rows = query.status === null ? listAll.all(session, before, query.limit) : listByStatus.all(session, query.status, before, query.limit);
        return rows.map(toRecord);
      }),
    replay: (session, id, now) => settle(() => replay.immediate(session, id, now)),
    // In the group: an accept made before it (the session's last events) is cancelled too, not written after it.
    cancelSession: grouped(cancelSession),
    prune: (before, limit) => settle(() => prune.immediate(before, limit)),
  } satisfies OutboxStore;
}

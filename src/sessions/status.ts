import type { AnySessionFact, SessionStatusPoint } from '../presence/events.js';
import { isTransition } from '../presence/lifecycle.js';
import type { SessionStatus } from '../presence/status.js';
import type { SessionContext } from './context.js';
import { startRenewal } from './renewal.js';
import type { Runtime } from './runtime.js';

/** How many statuses `session.status` carries in `statuses` (the new one last), as WAHA: 3. */
export const STATUS_POINTS = 3;

/**
 * Status reports: a session's status changes (checked against the lifecycle), the `session.status`
 * event, and, with several servers, the status shared with the others. Runs inside the session's
 * event queue, so changes are handled and written in order.
 */
export async function changeStatus(ctx: SessionContext, runtime: Runtime, to: SessionStatus, reason?: string): Promise<void> {
  const from = runtime.status;
  if (from === to) return;
  if (!isTransition(from, to)) {
    runtime.logger.warn({ from, to }, 'ignoring a status change that cannot happen');
    return;
  }
  const now = ctx.clock.now();
  runtime.status = to;
  runtime.reason = reason ?? null;
  runtime.statuses = lastPoints(runtime.statuses, { status: to, timestamp: now });
  ctx.history?.status(runtime.name, runtime.stored.config, to);
  if (to !== 'SCAN_QR_CODE') runtime.qr = null;
  runtime.logger.info({ from, to, ...(reason === undefined ? {} : { reason }) }, 'session status');
  if (from === 'WORKING') runtime.renewal?.controller.abort(new Error('session left WORKING'));
  if (to === 'WORKING') startRenewal(runtime, { subscriptions: ctx.storage.subscriptions, policy: ctx.policy, clock: ctx.clock, ...(ctx.onRenewal === undefined ? {} : { observer: ctx.onRenewal }) });
  await shareStatus(ctx, runtime);
  const payload = { name: runtime.name, status: to, statuses: runtime.statuses, ...(reason === undefined ? {} : { reason }) };
  await emit(ctx, runtime, { session: runtime.name, event: 'session.status', payload });
}

function lastPoints(points: readonly SessionStatusPoint[], next: SessionStatusPoint): readonly SessionStatusPoint[] {
  const all = [...points, next];
  return all.length > STATUS_POINTS ? all.slice(-STATUS_POINTS) : all;
}

/**
 * Several servers: shares the session's status (and whether an engine runs here) with the other
 * servers, fenced by the lease it runs under. Called inside the session's event queue, so rows
 * are written in the order of the changes. A failed write is logged and retried at the next
 * change: the status itself has changed either way.
 */
export async function shareStatus(ctx: SessionContext, runtime: Runtime): Promise<void> {
  const fence = runtime.fence;
  if (fence === null) return;
  const next = { status: runtime.status, engine: runtime.engine !== null, epoch: fence.epoch, reason: runtime.reason };
  const last = runtime.recorded;
  if (last !== null && last.status === next.status && last.engine === next.engine && last.epoch === next.epoch && last.reason === next.reason) return;
  try {
    const written = await ctx.ownership.report({ session: runtime.name, status: next.status, engine: next.engine, reason: next.reason }, fence, ctx.clock.now());
    runtime.recorded = next;
    // Refused: the lease went to another server, whose rows are the ones to believe.
    if (!written) runtime.logger.debug({ status: next.status, epoch: fence.epoch }, 'runtime status not shared: the lease moved on');
  } catch (error) {
    runtime.logger.warn({ err: error, status: next.status }, 'could not share the runtime status with the other servers');
  }
}

/**
 * Says what happened to the session's events port (src/events adds the envelope and routes it to
 * the session's webhooks, the global one and live clients) and waits until it is accepted.
 */
export async function emit(ctx: SessionContext, runtime: Runtime, fact: AnySessionFact): Promise<void> {
  try {
    await ctx.events.emit(fact, runtime.stored);
  } catch (error) {
    // The event is lost for webhooks; the state change it describes is already stored, and the
    // next event must not wait on this one. The error names the event's id (src/events/session-events.ts).
    runtime.logger.error({ err: error, event: fact.event }, 'event could not be accepted by the publisher');
  }
}

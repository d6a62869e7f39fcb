import { makeEnvelope } from '../events/envelope.js';
import type { EnvelopeSource } from '../events/envelope.js';
import type { AnyEventEnvelope } from '../presence/events.js';
import { isTransition } from '../presence/lifecycle.js';
import type { SessionStatus } from '../presence/status.js';
import type { SessionContext } from './context.js';
import { startRenewal } from './renewal.js';
import type { Runtime } from './runtime.js';

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
  runtime.status = to;
  runtime.reason = reason ?? null;
  ctx.history?.status(runtime.name, runtime.stored.config, to);
  if (to !== 'SCAN_QR_CODE') runtime.qr = null;
  runtime.logger.info({ from, to, ...(reason === undefined ? {} : { reason }) }, 'session status');
  if (from === 'WORKING') runtime.renewal?.controller.abort(new Error('session left WORKING'));
  if (to === 'WORKING') startRenewal(runtime, { subscriptions: ctx.storage.subscriptions, policy: ctx.policy, sleep: ctx.sleep, clock: ctx.clock, ...(ctx.onRenewal === undefined ? {} : { observer: ctx.onRenewal }) });
  await shareStatus(ctx, runtime);
  await publish(ctx, runtime, makeEnvelope('session.status', reason === undefined ? { status: to } : { status: to, reason }, source(runtime), ctx.clock()));
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
    const written = await ctx.ownership.report({ session: runtime.name, status: next.status, engine: next.engine, reason: next.reason }, fence, ctx.clock());
    runtime.recorded = next;
    // Refused: the lease went to another server, whose rows are the ones to believe.
    if (!written) runtime.logger.debug({ status: next.status, epoch: fence.epoch }, 'runtime status not shared: the lease moved on');
  } catch (error) {
    runtime.logger.warn({ err: error, status: next.status }, 'could not share the runtime status with the other servers');
  }
}

/** Who an event of the session is from (the envelope's session, me, engine, metadata). */
export function source(runtime: Runtime): EnvelopeSource {
  return { session: runtime.name, metadata: runtime.stored.config.metadata ?? null, me: runtime.stored.me, engine: runtime.stored.engine };
}

/** Hands an event of the session to the publisher (the durable-accept step) and waits for it. */
export async function publish(ctx: SessionContext, runtime: Runtime, envelope: AnyEventEnvelope): Promise<void> {
  try {
    await ctx.publisher.publish(envelope, runtime.stored.config.webhooks ?? []);
  } catch (error) {
    // The event is lost for webhooks; the state change it describes is already stored, and the
    // next event must not wait on this one.
    runtime.logger.error({ err: error, eventId: envelope.id, event: envelope.event }, 'event could not be accepted by the publisher');
  }
}

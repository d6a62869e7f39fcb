import type { Engine, EngineEvent } from '../engines/engine.js';
import { isAppError } from '../errors.js';
import type { Me } from '../presence/sessions.js';
import type { SessionContext } from './context.js';
import { engineError } from './context.js';
import type { Turn } from './gate.js';
import { applyPresence } from './intake.js';
import { cancelRenewal } from './renewal.js';
import { save } from './runtime.js';
import type { Runtime } from './runtime.js';
import { changeStatus, shareStatus } from './status.js';

/**
 * Longest an engine start holds its slot without reporting a status (WORKING, SCAN_QR_CODE, …):
 * past it the next session starts anyway. A start normally reports within seconds.
 */
export const START_SLOT_MS = 30_000;

function sameMe(a: Me | null, b: Me): boolean {
  return a !== null && a.id === b.id && a.pushName === b.pushName && (a.lid ?? null) === (b.lid ?? null) && a.jid === b.jid;
}

/** Handles one event of an engine, inside the session's event queue; events of an older engine are dropped. */
async function onEngineEvent(ctx: SessionContext, runtime: Runtime, generation: number, event: EngineEvent): Promise<void> {
  if (generation !== runtime.generation) {
    runtime.logger.debug({ event: event.type }, 'dropping an event of an engine that was stopped');
    return;
  }
  switch (event.type) {
    case 'status':
      await changeStatus(ctx, runtime, event.status, event.reason);
      // The engine stopped by itself (logged out from the phone, replaced, banned, …): it will not
      // reconnect, so the session is no longer one that should run (no restart after a server
      // restart, no takeover by another server) until someone starts it again.
      if (event.status === 'STOPPED' || event.status === 'FAILED') {
        const status = event.status;
        const unlinked = event.unlinked === true;
        runtime.control.post(() => releaseEngine(ctx, runtime, generation, status, unlinked));
      }
      return;
    case 'qr':
      runtime.qr = event.value;
      return;
    case 'me':
      if (!sameMe(runtime.stored.me, event.me)) await save(ctx.storage.sessions, runtime, { me: event.me }, ctx.clock.now());
      return;
    case 'presence':
      await applyPresence(ctx, runtime, event.chatId, event.presences);
      return;
  }
}

// ---- engine runs (run inside the session's control queue) ----

/**
 * Creates the engine and reports STARTING, then starts it once the start gate gives it a slot:
 * at once when one is free (a failure then rejects), else in its turn, later, on this control
 * queue (a failure then shows as FAILED with its reason). A command that stops the engine while
 * it waits (stop, delete, logout, restart, …) gives its place up: it is never started.
 */
export async function startEngine(ctx: SessionContext, runtime: Runtime): Promise<void> {
  if (runtime.engine !== null) {
    if (runtime.status !== 'STOPPED' && runtime.status !== 'FAILED') return;
    await stopEngine(ctx, runtime);
  }
  const fence = await ctx.ownership.claim(runtime.name);
  const generation = (runtime.generation += 1);
  // What an earlier engine saw may be stale (another server may have run the session meanwhile).
  runtime.presence.clear();
  runtime.subscribed.clear();
  let turn: Turn | null = null;
  // The engine exists before STARTING is reported, so that STARTING says where it runs (worker).
  const engine = ctx.engines.create({
    session: runtime.name,
    config: runtime.stored.config,
    auth: ctx.storage.auth.forSession(runtime.name, fence ?? undefined),
    logger: runtime.logger.child({ area: 'engine' }),
    emit: (event) => {
      // Its first status past STARTING (a QR to scan, logged in, failed, stopped) ends the costly
      // part of the start: the slot goes to the next session (one waiting for a scan must not hold it).
      if (event.type === 'status' && event.status !== 'STARTING') turn?.leave();
      runtime.events.post(() => onEngineEvent(ctx, runtime, generation, event));
    },
  });
  runtime.engine = engine;
  runtime.fence = fence;
  runtime.launched = false;
  await runtime.events.run(() => changeStatus(ctx, runtime, 'STARTING'));
  const { gate } = ctx;
  turn = gate.join(() => runtime.logger.warn({ ms: START_SLOT_MS }, 'no status from the engine since its start; its start slot goes to the next session'));
  runtime.turn = turn;
  if (turn.holding) {
    await launch(ctx, runtime, engine);
    return;
  }
  runtime.logger.info({ starting: gate.holding, waiting: gate.waiting }, 'waiting for a start slot (WA_PRESENCE_START_CONCURRENCY)');
  const mine = turn;
  void mine.ready.then((granted) => {
    if (!granted) return;
    runtime.control.post(async () => {
      // Stopped or started anew between the grant and now: that command decided what runs.
      if (runtime.generation !== generation) {
        mine.leave();
        return;
      }
      try {
        await launch(ctx, runtime, engine);
      } catch {
        // Logged by launch; the session shows FAILED with the reason, and nobody awaits this start.
      }
    });
  });
}

async function launch(ctx: SessionContext, runtime: Runtime, engine: Engine): Promise<void> {
  runtime.launched = true;
  try {
    await engine.start();
  } catch (error) {
    runtime.logger.error({ err: error }, 'engine failed to start');
    await stopEngine(ctx, runtime, 'FAILED');
    throw engineError(runtime.name, 'start', error);
  }
}

export async function stopEngine(ctx: SessionContext, runtime: Runtime, finalStatus: 'STOPPED' | 'FAILED' = 'STOPPED'): Promise<void> {
  runtime.generation += 1;
  // Out of the start queue (the engine will not be started), or its slot freed.
  runtime.turn?.leave();
  runtime.turn = null;
  runtime.launched = false;
  await cancelRenewal(runtime);
  const engine = runtime.engine;
  runtime.engine = null;
  if (engine !== null) {
    try {
      await engine.stop();
    } catch (error) {
      // The connection is being dropped either way; a failed goodbye must not keep the session up.
      runtime.logger.warn({ err: error }, 'engine did not stop cleanly');
    }
  }
  await runtime.events.run(async () => {
    runtime.qr = null;
    await changeStatus(ctx, runtime, finalStatus);
    // Already in that status (an engine that reported FAILED): still no engine here any more.
    await shareStatus(ctx, runtime);
  });
}

/**
 * After an engine's own final stop: drops the engine and marks the session as not running. An
 * unlinked device (removed from the phone) leaves the session as a logout does: what belonged to
 * that login (presence, subscriptions, the account) is forgotten with its credentials.
 */
async function releaseEngine(ctx: SessionContext, runtime: Runtime, generation: number, status: 'STOPPED' | 'FAILED', unlinked: boolean): Promise<void> {
  // A command (stop, restart, logout, …) handled the session since: it decided what runs.
  if (runtime.generation !== generation || runtime.engine === null) return;
  await stopEngine(ctx, runtime, status);
  // Several servers: a server stalled past its lease sees its old stream replaced by the new
  // owner's (440) when it wakes up; that is no reason for the session to stop running.
  if (runtime.fence !== null && !(await ctx.ownership.holds(runtime.name, runtime.fence))) {
    runtime.logger.info({ status, reason: runtime.reason }, 'engine stopped by itself after the lease moved on; the new owner decides what runs');
    return;
  }
  if (unlinked) await forgetLogin(ctx, runtime);
  if (runtime.stored.running) await save(ctx.storage.sessions, runtime, { running: false }, ctx.clock.now());
  runtime.logger.info({ status, reason: runtime.reason }, 'engine stopped by itself; the session stays stopped until it is started');
}

/** Forgets what belonged to the session's login: presence, subscriptions, the account and its presence. */
export async function forgetLogin(ctx: SessionContext, runtime: Runtime): Promise<void> {
  await ctx.storage.presence.clear(runtime.name);
  runtime.presence.clear();
  runtime.subscribed.clear();
  await ctx.storage.subscriptions.clear(runtime.name);
  await save(ctx.storage.sessions, runtime, { me: null, presence: null }, ctx.clock.now());
}

/**
 * Marks the session as wanted running. With several servers, the lease is taken first: a
 * session that should run and has no live lease is what every server's heartbeat takes, so
 * marking it first would let another server take it between the two steps and this start
 * answer SESSION_OWNED_ELSEWHERE for a session it just created. When the lease cannot be had
 * here (held elsewhere, or this server is full) the session is still marked, so that a server
 * with room runs it, and the error goes on to the caller.
 */
export async function wantRunning(ctx: SessionContext, runtime: Runtime): Promise<void> {
  if (runtime.stored.running) return;
  try {
    await ctx.ownership.claim(runtime.name);
  } catch (error) {
    if (isAppError(error) && error.code === 'SESSION_OWNED_ELSEWHERE') await save(ctx.storage.sessions, runtime, { running: true }, ctx.clock.now());
    throw error;
  }
  await save(ctx.storage.sessions, runtime, { running: true }, ctx.clock.now());
}

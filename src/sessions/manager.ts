import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Engine, EngineEvent, EngineFactory } from '../engines/engine.js';
import { AppError, isAppError } from '../errors.js';
import { makeEnvelope } from '../events/envelope.js';
import type { EnvelopeSource } from '../events/envelope.js';
import type { EventPublisher } from '../events/publisher.js';
import type { AnyEventEnvelope } from '../presence/events.js';
import { isTransition } from '../presence/lifecycle.js';
import { mergeChatPresence, withChanges } from '../presence/merge.js';
import type { Me, SessionConfig, SessionInfo } from '../presence/sessions.js';
import type { ChatPresenceStatus, GlobalPresence, SessionStatus } from '../presence/status.js';
import type { ChatPresence, ParticipantPresence } from '../presence/types.js';
import type { AuthStores } from '../storage/auth.js';
import type { LeaseFence, LeaseStore } from '../storage/leases.js';
import type { PresenceStore, StoredSubscription, SubscriptionStore } from '../storage/presence.js';
import type { SessionStore, StoredSession } from '../storage/sessions.js';
import type { RuntimeStatusStore } from '../storage/statuses.js';
import { createGate } from './gate.js';
import type { HistoryRecorder } from './history-recorder.js';
import type { Turn } from './gate.js';
import { createPresenceCache } from './presence-cache.js';
import type { PresenceCache } from './presence-cache.js';
import { createSerialQueue } from './queue.js';
import type { SerialQueue } from './queue.js';
import { DEFAULT_RENEWAL_POLICY, renew } from './renewal.js';
import type { RenewalPolicy, Sleep } from './renewal.js';
import { assertSessionConfig, assertSessionName } from './validate.js';

/** The stores the session layer uses (a `Storage` of any backend has them all). */
export interface SessionStorage {
  readonly sessions: SessionStore;
  readonly auth: AuthStores;
  readonly presence: PresenceStore;
  readonly subscriptions: SubscriptionStore;
  /** Written only with several servers (`sharedStatuses`). */
  readonly statuses: RuntimeStatusStore;
  /** Read only with several servers: whether a session's lease is still the one its engine ran under. */
  readonly leases: Pick<LeaseStore, 'get'>;
}

export interface SessionManagerDeps {
  readonly storage: SessionStorage;
  readonly engines: EngineFactory;
  readonly publisher: EventPublisher;
  readonly logger: Logger;
  readonly renewal?: RenewalPolicy;
  /** Defaults to a real timer; tests inject one that does not wait. */
  readonly sleep?: Sleep;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  /**
   * Several servers (src/cluster): called before any engine starts; resolves to the lease fence
   * under which this server runs the session (taking the lease when it is free), or throws an
   * `AppError` (SESSION_OWNED_ELSEWHERE). The engine's credential writes carry the fence. Absent on
   * one server: engines start unfenced, as before.
   */
  readonly claim?: (session: string) => Promise<LeaseFence>;
  /** Several servers: this server's id, reported as `worker` of the sessions it runs. */
  readonly serverId?: string;
  /**
   * Several servers: what the cluster knows of these sessions' runtime (src/cluster/statuses.ts),
   * for the sessions that have no engine here. The list answers with it, so that every server
   * lists every session as its owner would. Absent on one server: the list answers from memory.
   */
  readonly sharedStatuses?: (sessions: readonly StoredSession[]) => Promise<ReadonlyMap<string, SharedStatus>>;
  /**
   * Most engine starts in progress at once (`WA_PRESENCE_START_CONCURRENCY`): from `engine.start()`
   * until the engine's first status other than STARTING, its stop, or `START_SLOT_MS`. The others
   * wait their turn, first come first served, as STARTING. Absent: engines start without waiting.
   */
  readonly startConcurrency?: number;
  /** Presence history (src/sessions/history-recorder.ts): told every stored change and status transition. */
  readonly history?: HistoryRecorder;
}

/** A session's runtime as the cluster sees it: its status and, while a server runs it, that server. */
export type SharedStatus = Pick<SessionInfo, 'status' | 'worker' | 'reason'>;

export interface CreateSessionInput {
  readonly name?: string;
  /** Start right away (WAHA's default: true). */
  readonly start?: boolean;
  readonly config?: SessionConfig;
}

export interface ResumeOptions {
  /** Sessions to create when missing, and start. */
  readonly startSessions: readonly string[];
  /** Start every stored session, not only those that were running. */
  readonly restartAll: boolean;
}

/**
 * Sessions: their lifecycle, their engines, and what the engines report. Every method throws
 * `AppError`s (SESSION_NOT_FOUND, SESSION_NOT_WORKING, …) that the HTTP layer maps to responses.
 */
export interface SessionManager {
  /** Sessions that are not STOPPED, or every session with `all`. */
  list(all: boolean): Promise<SessionInfo[]>;
  get(name: string): Promise<SessionInfo>;
  create(input: CreateSessionInput): Promise<SessionInfo>;
  /** Replaces the config; a running session restarts to apply it (as WAHA does). */
  update(name: string, config: SessionConfig): Promise<SessionInfo>;
  delete(name: string): Promise<void>;
  /**
   * Resolves once the engine has begun connecting, or, while `startConcurrency` starts are in
   * progress, once it waits for its turn (STARTING): a failure in its turn shows as FAILED with the
   * reason instead of rejecting. A start, restart or create that starts shares this path.
   */
  start(name: string): Promise<SessionInfo>;
  stop(name: string): Promise<SessionInfo>;
  restart(name: string): Promise<SessionInfo>;
  /**
   * Unlinks the device and forgets its credentials, presence and subscriptions; the session ends
   * STOPPED and stays so until it is started again (for a new QR). WAHA starts a running session
   * again at once; here nothing is linked again until someone asks.
   */
  logout(name: string): Promise<SessionInfo>;
  me(name: string): Promise<Me | null>;
  /** The QR value to scan; only while SCAN_QR_CODE. */
  qr(name: string): Promise<string>;
  requestPairingCode(name: string, phoneNumber: string): Promise<string>;
  setPresence(name: string, presence: GlobalPresence): Promise<void>;
  setChatPresence(name: string, chatId: string, presence: ChatPresenceStatus, options?: { readonly durationMs?: number }): Promise<void>;
  subscribe(name: string, chatId: string): Promise<void>;
  /**
   * The chats the session is subscribed to (what the next reconnect renews), in the order they were
   * subscribed, whatever the session's status: it reads the store.
   */
  listSubscriptions(name: string): Promise<StoredSubscription[]>;
  /**
   * Forgets a subscription, in any status: it is not renewed after later reconnects, nor by a
   * renewal in progress that has not reached it yet. Resolves with whether the chat was subscribed.
   * WhatsApp has no unsubscribe that Baileys sends, so the live connection, if any, keeps receiving
   * the chat's presence until it ends.
   */
  unsubscribe(name: string, chatId: string): Promise<boolean>;
  /** Subscribes first when the chat was not subscribed (as WAHA does). */
  getPresence(name: string, chatId: string): Promise<ChatPresence>;
  listPresence(name: string): Promise<ChatPresence[]>;
  /** Starts what should run after a server start. Failures are logged per session, never thrown. */
  resume(options: ResumeOptions): Promise<void>;
  /** Stops every engine without changing what should run (for a server shutdown). */
  shutdown(): Promise<void>;
  /**
   * Resolves when every event reported so far is handled, with the commands it queued (the release
   * of an engine that stopped by itself), and the renewal in progress has ended (tests). Never call
   * it from inside a session command: it waits for the commands queued before it.
   */
  settled(name: string): Promise<void>;
  /**
   * Several servers: stops the session's engine here without changing whether it should run (its
   * lease went to another server), and forgets what this server cached of it. No-op when unknown.
   */
  detach(name: string): Promise<void>;
  /** Whether this server has an engine for the session right now (started, not stopped). */
  hasEngine(name: string): boolean;
}

interface Renewal {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** What the server knows about one session right now, besides what is stored. */
interface Runtime {
  readonly name: string;
  readonly logger: Logger;
  /** Engine events and status changes, strictly in order. */
  readonly events: SerialQueue;
  /** Lifecycle commands (start, stop, …), one at a time. */
  readonly control: SerialQueue;
  stored: StoredSession;
  status: SessionStatus;
  /** Why the last status change happened, when the engine said (in memory only). */
  reason: string | null;
  qr: string | null;
  engine: Engine | null;
  /** Bumped whenever an engine is started or stopped: events of an older engine are dropped. */
  generation: number;
  renewal: Renewal | null;
  /**
   * Chats unsubscribed lately, which a renewal skips: it may have read its list before their
   * removal committed. A renewal forgets those its list no longer has; subscribing again removes one.
   */
  readonly unsubscribed: Set<string>;
  /** Several servers: the lease the last engine was started under (its status writes carry it). */
  fence: LeaseFence | null;
  /** Several servers: what was last written to the shared runtime statuses, to write only changes. */
  recorded: { readonly status: SessionStatus; readonly engine: boolean; readonly epoch: number; readonly reason: string | null } | null;
  /** The current engine's place at the start gate: waiting for a slot, or holding one while it starts. */
  turn: Turn | null;
  /** Whether `engine.start()` was called on the current engine (false while it waits for a start slot). */
  launched: boolean;
  /** What the presence store holds for chats seen lately (written only from `events`). */
  readonly presence: PresenceCache;
}

/** What to do to get a session to WORKING, by its status (said in SESSION_NOT_WORKING). */
const WORKING_HINT: Readonly<Record<SessionStatus, string>> = {
  STOPPED: 'start it with POST /api/sessions/{session}/start',
  STARTING: 'it is connecting: retry in a few seconds',
  SCAN_QR_CODE: 'link it first: scan GET /api/{session}/auth/qr or use POST /api/{session}/auth/request-code',
  WORKING: 'retry',
  FAILED: 'deal with the cause, then start it with POST /api/sessions/{session}/start',
};

/**
 * Longest an engine start holds its slot without reporting a status (WORKING, SCAN_QR_CODE, …):
 * past it the next session starts anyway. A start normally reports within seconds.
 */
export const START_SLOT_MS = 30_000;

const defaultSleep: Sleep = (ms, signal) => delay(ms, undefined, { signal });

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Engine failures keep their `AppError`; anything else becomes ENGINE_FAILED with the cause attached. */
function engineError(session: string, action: string, error: unknown): AppError {
  if (isAppError(error)) return error;
  return new AppError('ENGINE_FAILED', `session "${session}" could not ${action}: ${messageOf(error)}`, { session }, { cause: error });
}

function sameMe(a: Me | null, b: Me): boolean {
  return a !== null && a.id === b.id && a.pushName === b.pushName && (a.lid ?? null) === (b.lid ?? null);
}

export function createSessionManager(deps: SessionManagerDeps): SessionManager {
  const { storage, engines, publisher } = deps;
  const logger = deps.logger.child({ area: 'sessions' });
  const policy = deps.renewal ?? DEFAULT_RENEWAL_POLICY;
  const sleep = deps.sleep ?? defaultSleep;
  const clock = deps.clock ?? Date.now;
  const runtimes = new Map<string, Runtime>();
  const gate = createGate({ slots: deps.startConcurrency ?? Number.POSITIVE_INFINITY, holdMs: START_SLOT_MS });
  /** Loads of a runtime in progress, so two concurrent requests share one runtime. */
  const loading = new Map<string, Promise<Runtime | null>>();

  function newRuntime(stored: StoredSession): Runtime {
    const sessionLogger = deps.logger.child({ session: stored.name });
    const runtime: Runtime = {
      name: stored.name,
      logger: sessionLogger,
      events: createSerialQueue((error) => sessionLogger.error({ err: error }, 'handling an engine event failed')),
      control: createSerialQueue((error) => sessionLogger.error({ err: error }, 'session command failed')),
      stored,
      status: 'STOPPED',
      reason: null,
      qr: null,
      engine: null,
      generation: 0,
      renewal: null,
      unsubscribed: new Set(),
      fence: null,
      recorded: null,
      turn: null,
      launched: false,
      presence: createPresenceCache(),
    };
    runtimes.set(stored.name, runtime);
    return runtime;
  }

  async function find(name: string): Promise<Runtime | null> {
    const known = runtimes.get(name);
    if (known !== undefined) return known;
    const pending = loading.get(name);
    if (pending !== undefined) return pending;
    const load = (async () => {
      const stored = await storage.sessions.get(name);
      if (stored === null) return null;
      return runtimes.get(name) ?? newRuntime(stored);
    })();
    loading.set(name, load);
    try {
      return await load;
    } finally {
      loading.delete(name);
    }
  }

  async function runtimeOf(name: string): Promise<Runtime> {
    const runtime = await find(name);
    if (runtime === null) throw new AppError('SESSION_NOT_FOUND', `session "${name}" does not exist`, { session: name });
    return runtime;
  }

  function info(runtime: Runtime): SessionInfo {
    const base: SessionInfo = {
      name: runtime.name,
      status: runtime.status,
      config: runtime.stored.config,
      me: runtime.stored.me,
      engine: { engine: runtime.stored.engine },
      ...(runtime.reason === null ? {} : { reason: runtime.reason }),
    };
    return deps.serverId !== undefined && runtime.engine !== null ? { ...base, worker: deps.serverId } : base;
  }

  async function save(runtime: Runtime, patch: Partial<Omit<StoredSession, 'name' | 'createdAt'>>): Promise<void> {
    const next: StoredSession = { ...runtime.stored, ...patch, updatedAt: clock() };
    if (!(await storage.sessions.update(next))) {
      throw new AppError('SESSION_NOT_FOUND', `session "${runtime.name}" does not exist`, { session: runtime.name });
    }
    runtime.stored = next;
  }

  /**
   * Several servers: shares the session's status (and whether an engine runs here) with the other
   * servers, fenced by the lease it runs under. Called inside the session's event queue, so rows
   * are written in the order of the changes. A failed write is logged and retried at the next
   * change: the status itself has changed either way.
   */
  async function shareStatus(runtime: Runtime): Promise<void> {
    const fence = runtime.fence;
    if (deps.sharedStatuses === undefined || fence === null) return;
    const next = { status: runtime.status, engine: runtime.engine !== null, epoch: fence.epoch, reason: runtime.reason };
    const last = runtime.recorded;
    if (last !== null && last.status === next.status && last.engine === next.engine && last.epoch === next.epoch && last.reason === next.reason) return;
    try {
      const written = await storage.statuses.put({ session: runtime.name, server: fence.owner, at: clock(), ...next });
      runtime.recorded = next;
      // Refused: the lease went to another server, whose rows are the ones to believe.
      if (!written) runtime.logger.debug({ status: next.status, epoch: fence.epoch }, 'runtime status not shared: the lease moved on');
    } catch (error) {
      runtime.logger.warn({ err: error, status: next.status }, 'could not share the runtime status with the other servers');
    }
  }

  function source(runtime: Runtime): EnvelopeSource {
    return { session: runtime.name, metadata: runtime.stored.config.metadata ?? null, me: runtime.stored.me, engine: runtime.stored.engine };
  }

  /** Hands an event to the publisher (the durable-accept step) and waits for it. */
  async function publish(runtime: Runtime, envelope: AnyEventEnvelope): Promise<void> {
    try {
      await publisher.publish(envelope, runtime.stored.config.webhooks ?? []);
    } catch (error) {
      // The event is lost for webhooks; the state change it describes is already stored, and the
      // next event must not wait on this one.
      runtime.logger.error({ err: error, eventId: envelope.id, event: envelope.event }, 'event could not be accepted by the publisher');
    }
  }

  // ---- status and renewal (run inside the session's event queue) ----

  async function changeStatus(runtime: Runtime, to: SessionStatus, reason?: string): Promise<void> {
    const from = runtime.status;
    if (from === to) return;
    if (!isTransition(from, to)) {
      runtime.logger.warn({ from, to }, 'ignoring a status change that cannot happen');
      return;
    }
    runtime.status = to;
    runtime.reason = reason ?? null;
    deps.history?.status(runtime.name, runtime.stored.config, to);
    if (to !== 'SCAN_QR_CODE') runtime.qr = null;
    runtime.logger.info({ from, to, ...(reason === undefined ? {} : { reason }) }, 'session status');
    if (from === 'WORKING') runtime.renewal?.controller.abort(new Error('session left WORKING'));
    if (to === 'WORKING') startRenewal(runtime);
    await shareStatus(runtime);
    await publish(runtime, makeEnvelope('session.status', reason === undefined ? { status: to } : { status: to, reason }, source(runtime), clock()));
  }

  /**
   * Re-sends the stored global presence and re-subscribes every stored chat. The task is kept in
   * the runtime and awaited by whoever stops or restarts the session; a newer renewal first aborts
   * and awaits the older one, so two never run at once.
   */
  function startRenewal(runtime: Runtime): void {
    const engine = runtime.engine;
    if (engine === null) return;
    const previous = runtime.renewal;
    previous?.controller.abort(new Error('superseded by a newer renewal'));
    const controller = new AbortController();
    const renewalLogger = runtime.logger.child({ area: 'renewal' });
    const done = (async () => {
      await previous?.done;
      try {
        const chatIds = (await storage.subscriptions.list(runtime.name)).map((subscription) => subscription.chatId);
        // An unsubscribe whose removal this list already reflects needs no skipping any more; one
        // whose removal had not committed yet (another connection) is still skipped.
        const listed = new Set(chatIds);
        for (const chatId of runtime.unsubscribed) if (!listed.has(chatId)) runtime.unsubscribed.delete(chatId);
        const report = await renew({
          target: engine,
          presence: runtime.stored.presence,
          chatIds,
          wanted: (chatId) => !runtime.unsubscribed.has(chatId),
          policy,
          signal: controller.signal,
          sleep,
          logger: renewalLogger,
        });
        renewalLogger.info({ ...report, failed: report.failed.length }, 'presence and subscriptions renewed');
      } catch (error) {
        if (controller.signal.aborted) renewalLogger.info('renewal cancelled');
        else renewalLogger.error({ err: error }, 'renewal failed');
      }
    })();
    const renewal: Renewal = { controller, done };
    runtime.renewal = renewal;
    void done.finally(() => {
      if (runtime.renewal === renewal) runtime.renewal = null;
    });
  }

  async function cancelRenewal(runtime: Runtime): Promise<void> {
    const renewal = runtime.renewal;
    if (renewal === null) return;
    renewal.controller.abort(new Error('session stopping'));
    await renewal.done;
  }

  async function applyPresence(runtime: Runtime, chatId: string, presences: readonly ParticipantPresence[]): Promise<void> {
    const cached = runtime.presence.get(chatId);
    const stored = cached === undefined ? await storage.presence.get(runtime.name, chatId) : cached;
    const changed = mergeChatPresence(stored, presences);
    if (changed.length === 0) {
      if (cached === undefined) runtime.presence.set(chatId, stored);
      return;
    }
    try {
      await storage.presence.put(runtime.name, chatId, changed);
    } catch (error) {
      runtime.presence.delete(chatId);
      throw error;
    }
    runtime.presence.set(chatId, withChanges(chatId, stored, changed));
    deps.history?.changed(runtime.name, runtime.stored.config, chatId, changed);
    await publish(runtime, makeEnvelope('presence.update', { id: chatId, presences: changed }, source(runtime), clock()));
  }

  async function onEngineEvent(runtime: Runtime, generation: number, event: EngineEvent): Promise<void> {
    if (generation !== runtime.generation) {
      runtime.logger.debug({ event: event.type }, 'dropping an event of an engine that was stopped');
      return;
    }
    switch (event.type) {
      case 'status':
        await changeStatus(runtime, event.status, event.reason);
        // The engine stopped by itself (logged out from the phone, replaced, banned, …): it will not
        // reconnect, so the session is no longer one that should run (no restart after a server
        // restart, no takeover by another server) until someone starts it again.
        if (event.status === 'STOPPED' || event.status === 'FAILED') {
          const status = event.status;
          const unlinked = event.unlinked === true;
          runtime.control.post(() => releaseEngine(runtime, generation, status, unlinked));
        }
        return;
      case 'qr':
        runtime.qr = event.value;
        return;
      case 'me':
        if (!sameMe(runtime.stored.me, event.me)) await save(runtime, { me: event.me });
        return;
      case 'presence':
        await applyPresence(runtime, event.chatId, event.presences);
        return;
    }
  }

  // ---- engine lifecycle (run inside the session's control queue) ----

  /**
   * Creates the engine and reports STARTING, then starts it once the start gate gives it a slot:
   * at once when one is free (a failure then rejects), else in its turn, later, on this control
   * queue (a failure then shows as FAILED with its reason). A command that stops the engine while
   * it waits (stop, delete, logout, restart, …) gives its place up: it is never started.
   */
  async function startEngine(runtime: Runtime): Promise<void> {
    if (runtime.engine !== null) {
      if (runtime.status !== 'STOPPED' && runtime.status !== 'FAILED') return;
      await stopEngine(runtime);
    }
    const fence = deps.claim === undefined ? undefined : await deps.claim(runtime.name);
    const generation = (runtime.generation += 1);
    // What an earlier engine saw may be stale (another server may have run the session meanwhile).
    runtime.presence.clear();
    let turn: Turn | null = null;
    // The engine exists before STARTING is reported, so that STARTING says where it runs (worker).
    const engine = engines.create({
      session: runtime.name,
      config: runtime.stored.config,
      auth: storage.auth.forSession(runtime.name, fence),
      logger: runtime.logger.child({ area: 'engine' }),
      emit: (event) => {
        // Its first status past STARTING (a QR to scan, logged in, failed, stopped) ends the costly
        // part of the start: the slot goes to the next session (one waiting for a scan must not hold it).
        if (event.type === 'status' && event.status !== 'STARTING') turn?.leave();
        runtime.events.post(() => onEngineEvent(runtime, generation, event));
      },
    });
    runtime.engine = engine;
    runtime.fence = fence ?? null;
    runtime.launched = false;
    await runtime.events.run(() => changeStatus(runtime, 'STARTING'));
    turn = gate.join(() => runtime.logger.warn({ ms: START_SLOT_MS }, 'no status from the engine since its start; its start slot goes to the next session'));
    runtime.turn = turn;
    if (turn.holding) {
      await launch(runtime, engine);
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
          await launch(runtime, engine);
        } catch {
          // Logged by launch; the session shows FAILED with the reason, and nobody awaits this start.
        }
      });
    });
  }

  async function launch(runtime: Runtime, engine: Engine): Promise<void> {
    runtime.launched = true;
    try {
      await engine.start();
    } catch (error) {
      runtime.logger.error({ err: error }, 'engine failed to start');
      await stopEngine(runtime, 'FAILED');
      throw engineError(runtime.name, 'start', error);
    }
  }

  async function stopEngine(runtime: Runtime, finalStatus: 'STOPPED' | 'FAILED' = 'STOPPED'): Promise<void> {
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
      await changeStatus(runtime, finalStatus);
      // Already in that status (an engine that reported FAILED): still no engine here any more.
      await shareStatus(runtime);
    });
  }

  /**
   * After an engine's own final stop: drops the engine and marks the session as not running. An
   * unlinked device (removed from the phone) leaves the session as a logout does: what belonged to
   * that login (presence, subscriptions, the account) is forgotten with its credentials.
   */
  async function releaseEngine(runtime: Runtime, generation: number, status: 'STOPPED' | 'FAILED', unlinked: boolean): Promise<void> {
    // A command (stop, restart, logout, …) handled the session since: it decided what runs.
    if (runtime.generation !== generation || runtime.engine === null) return;
    await stopEngine(runtime, status);
    // Several servers: a server stalled past its lease sees its old stream replaced by the new
    // owner's (440) when it wakes up; that is no reason for the session to stop running.
    if (!(await stillOwned(runtime))) {
      runtime.logger.info({ status, reason: runtime.reason }, 'engine stopped by itself after the lease moved on; the new owner decides what runs');
      return;
    }
    if (unlinked) await forgetLogin(runtime);
    if (runtime.stored.running) await save(runtime, { running: false });
    runtime.logger.info({ status, reason: runtime.reason }, 'engine stopped by itself; the session stays stopped until it is started');
  }

  /** Whether the lease this session's last engine ran under is still this server's (always, on one server). */
  async function stillOwned(runtime: Runtime): Promise<boolean> {
    const fence = runtime.fence;
    if (fence === null) return true;
    const lease = await storage.leases.get(runtime.name);
    return lease !== null && lease.owner === fence.owner && lease.epoch === fence.epoch;
  }

  async function forgetLogin(runtime: Runtime): Promise<void> {
    await storage.presence.clear(runtime.name);
    runtime.presence.clear();
    await storage.subscriptions.clear(runtime.name);
    await save(runtime, { me: null, presence: null });
  }

  /**
   * Marks the session as wanted running. With several servers, the lease is taken first: a
   * session that should run and has no live lease is what every server's heartbeat takes, so
   * marking it first would let another server take it between the two steps and this start
   * answer SESSION_OWNED_ELSEWHERE for a session it just created. When the lease cannot be had
   * here (held elsewhere, or this server is full) the session is still marked, so that a server
   * with room runs it, and the error goes on to the caller.
   */
  async function wantRunning(runtime: Runtime): Promise<void> {
    if (runtime.stored.running) return;
    if (deps.claim !== undefined) {
      try {
        await deps.claim(runtime.name);
      } catch (error) {
        if (isAppError(error) && error.code === 'SESSION_OWNED_ELSEWHERE') await save(runtime, { running: true });
        throw error;
      }
    }
    await save(runtime, { running: true });
  }

  function storedInfo(session: StoredSession, shared: SharedStatus = { status: 'STOPPED' }): SessionInfo {
    const base: SessionInfo = {
      name: session.name,
      status: shared.status,
      config: session.config,
      me: session.me,
      engine: { engine: session.engine },
      ...(shared.reason === undefined ? {} : { reason: shared.reason }),
    };
    return shared.worker === undefined ? base : { ...base, worker: shared.worker };
  }

  /** Several servers: a session that has no engine here, as the cluster sees it. */
  async function sharedInfo(name: string, sharedStatuses: NonNullable<SessionManagerDeps['sharedStatuses']>): Promise<SessionInfo> {
    const stored = await storage.sessions.get(name);
    if (stored === null) throw new AppError('SESSION_NOT_FOUND', `session "${name}" does not exist`, { session: name });
    return storedInfo(stored, (await sharedStatuses([stored])).get(name));
  }

  async function requireWorking(name: string): Promise<{ runtime: Runtime; engine: Engine }> {
    const runtime = await runtimeOf(name);
    const engine = runtime.engine;
    if (runtime.status !== 'WORKING' || engine === null) {
      const why = runtime.reason === null ? '' : ` (${runtime.reason})`;
      throw new AppError('SESSION_NOT_WORKING', `session "${name}" is ${runtime.status}, not WORKING${why}; ${WORKING_HINT[runtime.status].replaceAll('{session}', name)}`, {
        session: name,
        status: runtime.status,
      });
    }
    return { runtime, engine };
  }

  async function subscribeChat(runtime: Runtime, engine: Engine, chatId: string): Promise<void> {
    try {
      await engine.subscribe(chatId);
    } catch (error) {
      throw engineError(runtime.name, `subscribe to ${chatId}`, error);
    }
    runtime.unsubscribed.delete(chatId);
    await storage.subscriptions.add(runtime.name, chatId, clock());
  }

  const manager: SessionManager = {
    async list(all) {
      const stored = await storage.sessions.list();
      const runsHere = (session: StoredSession): boolean => (runtimes.get(session.name)?.engine ?? null) !== null;
      // Several servers: sessions run here are answered from memory (exact), the others as the cluster sees them.
      const shared = deps.sharedStatuses === undefined ? null : await deps.sharedStatuses(stored.filter((session) => !runsHere(session)));
      const result: SessionInfo[] = [];
      for (const session of stored) {
        const runtime = runtimes.get(session.name);
        let sessionInfo: SessionInfo;
        if (runtime !== undefined && (shared === null || runtime.engine !== null)) sessionInfo = info(runtime);
        else sessionInfo = storedInfo(session, shared?.get(session.name));
        if (all || sessionInfo.status !== 'STOPPED') result.push(sessionInfo);
      }
      return result;
    },

    async get(name) {
      return info(await runtimeOf(name));
    },

    async create(input) {
      const name = input.name ?? 'default';
      assertSessionName(name);
      const config = input.config ?? {};
      assertSessionConfig(config);
      const now = clock();
      const stored: StoredSession = { name, engine: 'NOWEB', config, running: false, me: null, presence: null, createdAt: now, updatedAt: now };
      if (!(await storage.sessions.create(stored))) {
        throw new AppError('SESSION_EXISTS', `session "${name}" already exists; choose another name or update it with PUT /api/sessions/${name}`, { session: name });
      }
      logger.info({ session: name }, 'session created');
      if (input.start === false) return manager.get(name);
      try {
        return await manager.start(name);
      } catch (error) {
        // Several servers: the session exists and should run, but not here (another server took
        // its lease, or this one is full and a server with room will): it was created all the
        // same, so answer it as the cluster sees it instead of an error the client cannot act on.
        const sharedStatuses = deps.sharedStatuses;
        if (sharedStatuses === undefined || !isAppError(error) || error.code !== 'SESSION_OWNED_ELSEWHERE') throw error;
        logger.info({ session: name, server: error.details?.['server'] ?? null }, 'session created; another server runs it');
        return sharedInfo(name, sharedStatuses);
      }
    },

    async update(name, config) {
      assertSessionConfig(config);
      const runtime = await runtimeOf(name);
      return runtime.control.run(async () => {
        await save(runtime, { config });
        if (runtime.engine !== null) {
          await stopEngine(runtime);
          await startEngine(runtime);
        }
        return info(runtime);
      });
    },

    async delete(name) {
      const runtime = await runtimeOf(name);
      await runtime.control.run(async () => {
        await stopEngine(runtime);
        await runtime.events.idle();
        await storage.sessions.delete(name);
        await deps.history?.forget(name);
        runtimes.delete(name);
        logger.info({ session: name }, 'session deleted');
      });
    },

    async start(name) {
      const runtime = await runtimeOf(name);
      return runtime.control.run(async () => {
        await wantRunning(runtime);
        await startEngine(runtime);
        return info(runtime);
      });
    },

    async stop(name) {
      const runtime = await runtimeOf(name);
      return runtime.control.run(async () => {
        await stopEngine(runtime);
        if (runtime.stored.running) await save(runtime, { running: false });
        return info(runtime);
      });
    },

    async restart(name) {
      const runtime = await runtimeOf(name);
      return runtime.control.run(async () => {
        await stopEngine(runtime);
        await wantRunning(runtime);
        await startEngine(runtime);
        return info(runtime);
      });
    },

    async logout(name) {
      const runtime = await runtimeOf(name);
      return runtime.control.run(async () => {
        if (runtime.engine !== null && runtime.launched) {
          try {
            await runtime.engine.logout();
          } catch (error) {
            throw engineError(name, 'log out', error);
          }
          await stopEngine(runtime);
        } else {
          // Still waiting for a start slot, it has no connection to unlink through: it gives up its turn.
          if (runtime.engine !== null) await stopEngine(runtime);
          await storage.auth.forSession(name).clear();
        }
        await forgetLogin(runtime);
        await save(runtime, { running: false });
        runtime.logger.info('logged out');
        return info(runtime);
      });
    },

    async me(name) {
      return (await runtimeOf(name)).stored.me;
    },

    async qr(name) {
      const runtime = await runtimeOf(name);
      if (runtime.status !== 'SCAN_QR_CODE' || runtime.qr === null) {
        throw new AppError('QR_NOT_AVAILABLE', `session "${name}" is ${runtime.status}; a QR code exists only in SCAN_QR_CODE`, {
          session: name,
          status: runtime.status,
        });
      }
      return runtime.qr;
    },

    async requestPairingCode(name, phoneNumber) {
      const runtime = await runtimeOf(name);
      const engine = runtime.engine;
      if (runtime.status !== 'SCAN_QR_CODE' || engine === null) {
        throw new AppError('PAIRING_NOT_AVAILABLE', `session "${name}" is ${runtime.status}; a pairing code can be requested only in SCAN_QR_CODE`, {
          session: name,
          status: runtime.status,
        });
      }
      try {
        return await engine.requestPairingCode(phoneNumber);
      } catch (error) {
        throw engineError(name, 'request a pairing code', error);
      }
    },

    async setPresence(name, presence) {
      const { runtime, engine } = await requireWorking(name);
      try {
        await engine.setPresence(presence);
      } catch (error) {
        throw engineError(name, `set presence ${presence}`, error);
      }
      // Remembered so that a reconnect re-sends it (WhatsApp forgets it with the connection).
      if (runtime.stored.presence !== presence) await save(runtime, { presence });
    },

    async setChatPresence(name, chatId, presence, options) {
      const { engine } = await requireWorking(name);
      try {
        await engine.setChatPresence(chatId, presence, options);
      } catch (error) {
        throw engineError(name, `send ${presence} to ${chatId}`, error);
      }
    },

    async subscribe(name, chatId) {
      const { runtime, engine } = await requireWorking(name);
      await subscribeChat(runtime, engine, chatId);
    },

    async listSubscriptions(name) {
      await runtimeOf(name);
      return storage.subscriptions.list(name);
    },

    async unsubscribe(name, chatId) {
      const runtime = await runtimeOf(name);
      // Before the store: a renewal that reads its list before the removal commits still skips the chat.
      runtime.unsubscribed.add(chatId);
      const removed = await storage.subscriptions.remove(name, chatId);
      runtime.logger.info({ chatId, removed }, 'presence subscription removed; renewed no more');
      return removed;
    },

    async getPresence(name, chatId) {
      const { runtime, engine } = await requireWorking(name);
      // Stored first: `add` tells whether the chat is new, in one step, without listing them all.
      if (await storage.subscriptions.add(name, chatId, clock())) {
        runtime.unsubscribed.delete(chatId);
        try {
          await engine.subscribe(chatId);
        } catch (error) {
          await storage.subscriptions.remove(name, chatId);
          throw engineError(runtime.name, `subscribe to ${chatId}`, error);
        }
      }
      return (await storage.presence.get(name, chatId)) ?? { id: chatId, presences: [] };
    },

    async listPresence(name) {
      await requireWorking(name);
      return storage.presence.list(name);
    },

    async resume(options) {
      for (const name of options.startSessions) {
        try {
          if ((await find(name)) === null) await manager.create({ name, start: false });
        } catch (error) {
          logger.error({ err: error, session: name }, 'could not create a session from WHATSAPP_START_SESSION');
        }
      }
      const wanted = new Set(options.startSessions);
      for (const stored of await storage.sessions.list()) {
        if (!stored.running && !options.restartAll && !wanted.has(stored.name)) continue;
        try {
          await manager.start(stored.name);
        } catch (error) {
          logger.error({ err: error, session: stored.name }, 'could not resume the session');
        }
      }
    },

    async shutdown() {
      await Promise.all(
        [...runtimes.values()].map((runtime) =>
          runtime.control.run(async () => {
            if (runtime.engine !== null) await stopEngine(runtime);
            await runtime.events.idle();
          }),
        ),
      );
    },

    async settled(name) {
      const runtime = await runtimeOf(name);
      await runtime.events.idle();
      // An engine's own final stop is handled on the control queue (see releaseEngine).
      await runtime.control.idle();
      await runtime.renewal?.done;
      await runtime.events.idle();
    },

    async detach(name) {
      const runtime = runtimes.get(name);
      if (runtime === undefined) return;
      await runtime.control.run(async () => {
        if (runtime.engine !== null) await stopEngine(runtime);
        await runtime.events.idle();
        // Another server now changes what is stored; a later request here loads it afresh.
        if (runtimes.get(name) === runtime) runtimes.delete(name);
      });
    },

    hasEngine(name) {
      return (runtimes.get(name)?.engine ?? null) !== null;
    },
  };
  return manager;
}

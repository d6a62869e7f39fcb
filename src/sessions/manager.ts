import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import type { Logger } from 'pino';
import type { EngineFactory } from '../engines/engine.js';
import type { SessionEvents } from '../events/publisher.js';
import type { Me, SessionConfig, SessionInfo } from '../presence/sessions.js';
import type { ChatPresenceStatus, GlobalPresence } from '../presence/status.js';
import type { ChatPresence } from '../presence/types.js';
import type { StoredSubscription } from '../storage/presence.js';
import type { SessionContext, SessionStorage } from './context.js';
import { START_SLOT_MS } from './engine-runs.js';
import { createGate } from './gate.js';
import type { HistoryRecorder } from './history-recorder.js';
import { singleServerOwnership } from './ownership.js';
import type { SessionOwnership } from './ownership.js';
import { presenceCommands } from './presence-commands.js';
import { DEFAULT_RENEWAL_POLICY } from './renewal.js';
import type { RenewalObserver, RenewalPolicy } from './renewal.js';
import { createRuntimeTable } from './runtime.js';
import { sessionCommands } from './session-commands.js';
import type { CreateSessionInput, ResumeOptions } from './session-commands.js';

/*
 * The session layer, one room per concern, behind this facade:
 *   runtime.ts           the runtime table (what the server knows of each session besides the store)
 *   engine-runs.ts       engine runs: start (through the start gate), stop, an engine's own stop, its events
 *   status.ts            status reports: the lifecycle check, `session.status`, the status shared between servers
 *   intake.ts            presence intake: merge, cache, store, publish `presence.update`
 *   renewal.ts           renewal after a reconnect: the re-subscription and its rate limit
 *   presence-commands.ts presence commands and login codes
 *   session-commands.ts  session commands: create, start, stop, logout, delete, resume, shutdown
 *   ownership.ts         the SessionOwnership port (one server owns everything; src/cluster for several)
 */

export type { SessionStorage } from './context.js';
export type { SharedStatus, SessionOwnership } from './ownership.js';
export type { CreateSessionInput, ResumeOptions } from './session-commands.js';
export { START_SLOT_MS } from './engine-runs.js';

export interface SessionManagerDeps {
  readonly storage: SessionStorage;
  readonly engines: EngineFactory;
  /** src/events' `createSessionEvents` (or a double): takes `{session, event, payload}`, adds the envelope. */
  readonly events: SessionEvents;
  readonly logger: Logger;
  readonly renewal?: RenewalPolicy;
  /** Defaults to the system clock; tests inject one whose sleep does not wait. */
  readonly clock?: Clock;
  /** Told of every renewal that ran to its end (not cancelled): its report (null when it failed as a whole) and how long it took (metrics). */
  readonly onRenewal?: RenewalObserver;
  /** Presence history (src/sessions/history-recorder.ts): told every stored change and status transition. */
  readonly history?: HistoryRecorder;
  /**
   * Which server runs which session. Absent: this server owns every session (one server), engines
   * start unfenced. Several servers: src/cluster's implementation (leases, fenced status writes).
   */
  readonly ownership?: SessionOwnership;
  /**
   * Most engine starts in progress at once (`WA_PRESENCE_START_CONCURRENCY`): from `engine.start()`
   * until the engine's first status other than STARTING, its stop, or `START_SLOT_MS`. The others
   * wait their turn, first come first served, as STARTING. Absent: engines start without waiting.
   */
  readonly startConcurrency?: number;
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
  /** Ordered by chat id; the array may be shared with the next callers: do not modify it. */
  listPresence(name: string): Promise<readonly ChatPresence[]>;
  /** `getPresence`'s answer when it is in memory here, synchronously; else `undefined`. */
  knownPresence(name: string, chatId: string): ChatPresence | undefined;
  /** `listPresence`'s answer when it is in memory here, synchronously; else `undefined`. */
  knownPresenceList(name: string): readonly ChatPresence[] | undefined;
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

export function createSessionManager(deps: SessionManagerDeps): SessionManager {
  const ctx: SessionContext = {
    storage: deps.storage,
    engines: deps.engines,
    events: deps.events,
    logger: deps.logger.child({ area: 'sessions' }),
    policy: deps.renewal ?? DEFAULT_RENEWAL_POLICY,
    clock: deps.clock ?? systemClock,
    ...(deps.onRenewal === undefined ? {} : { onRenewal: deps.onRenewal }),
    ...(deps.history === undefined ? {} : { history: deps.history }),
    ownership: deps.ownership ?? singleServerOwnership,
    gate: createGate({ slots: deps.startConcurrency ?? Number.POSITIVE_INFINITY, holdMs: START_SLOT_MS }),
    runtimes: createRuntimeTable(deps.storage.sessions, deps.logger),
  };
  return { ...sessionCommands(ctx), ...presenceCommands(ctx) };
}

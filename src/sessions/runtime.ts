import type { Logger } from 'pino';
import type { Engine } from '../engines/engine.js';
import { AppError } from '../errors.js';
import type { SessionStatusPoint } from '../presence/events.js';
import type { SessionInfo } from '../presence/sessions.js';
import type { SessionStatus } from '../presence/status.js';
import type { LeaseFence } from '../storage/leases.js';
import type { SessionStore, StoredSession } from '../storage/sessions.js';
import type { Turn } from './gate.js';
import { createPresenceCache } from './presence-cache.js';
import type { PresenceCache } from './presence-cache.js';
import { createSerialQueue } from './queue.js';
import type { SerialQueue } from './queue.js';
import type { SharedStatus } from './ownership.js';

/** A renewal in progress (renewal.ts): aborted and awaited by whoever stops or restarts the session. */
export interface Renewal {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** What the server knows about one session right now, besides what is stored. */
export interface Runtime {
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
  /**
   * Chats this server saw in the subscription store since the engine started, so a presence read
   * does not write the store each time. Forgotten with the presence cache (engine start, login
   * forgotten) and by unsubscribe, before the store's removal.
   */
  readonly subscribed: Set<string>;
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
  /** The last statuses and when (status.ts keeps `STATUS_POINTS`), for `session.status`'s `statuses`. */
  statuses: readonly SessionStatusPoint[];
  /** Milliseconds since the epoch of the last command a client sent through the engine (WAHA's `timestamps.activity`); null before any. */
  activity: number | null;
}

/** The runtimes of the sessions this server has seen, loaded from the store on first use. */
export interface RuntimeTable {
  /** The runtime, loading it from the store; null when the session does not exist. */
  find(name: string): Promise<Runtime | null>;
  /** As `find`, throwing SESSION_NOT_FOUND. */
  require(name: string): Promise<Runtime>;
  /** The runtime only if already loaded. */
  known(name: string): Runtime | undefined;
  forget(name: string): void;
  all(): Runtime[];
}

export function createRuntimeTable(sessions: Pick<SessionStore, 'get'>, logger: Logger): RuntimeTable {
  const runtimes = new Map<string, Runtime>();
  /** Loads of a runtime in progress, so two concurrent requests share one runtime. */
  const loading = new Map<string, Promise<Runtime | null>>();

  function newRuntime(stored: StoredSession): Runtime {
    const sessionLogger = logger.child({ session: stored.name });
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
      subscribed: new Set(),
      fence: null,
      recorded: null,
      turn: null,
      launched: false,
      presence: createPresenceCache(),
      statuses: [],
      activity: null,
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
      const stored = await sessions.get(name);
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

  return {
    find,
    async require(name) {
      const runtime = await find(name);
      if (runtime === null) throw notFound(name);
      return runtime;
    },
    known: (name) => runtimes.get(name),
    forget: (name) => void runtimes.delete(name),
    all: () => [...runtimes.values()],
  };
}

export function notFound(name: string): AppError {
  return new AppError('SESSION_NOT_FOUND', `session "${name}" does not exist`, { session: name });
}

/** Writes a change of the stored session and keeps it in the runtime. */
export async function save(sessions: Pick<SessionStore, 'update'>, runtime: Runtime, patch: Partial<Omit<StoredSession, 'name' | 'createdAt'>>, now: number): Promise<void> {
  const next: StoredSession = { ...runtime.stored, ...patch, updatedAt: now };
  if (!(await sessions.update(next))) throw notFound(runtime.name);
  runtime.stored = next;
}

/** A session as this server runs it; `worker` is this server while its engine runs here (several servers). */
export function info(runtime: Runtime, serverId: string | null): SessionInfo {
  const base: SessionInfo = {
    name: runtime.name,
    status: runtime.status,
    config: runtime.stored.config,
    me: runtime.stored.me,
    engine: { engine: runtime.stored.engine },
    presence: runtime.stored.presence,
    activity: runtime.activity,
    ...(runtime.reason === null ? {} : { reason: runtime.reason }),
  };
  return serverId !== null && runtime.engine !== null ? { ...base, worker: serverId } : base;
}

/** A session that has no engine here, from the store and what the cluster says of it. */
export function storedInfo(session: StoredSession, shared: SharedStatus = { status: 'STOPPED' }): SessionInfo {
  const base: SessionInfo = {
    name: session.name,
    status: shared.status,
    config: session.config,
    me: session.me,
    engine: { engine: session.engine },
    presence: session.presence,
    // Activity is known only where the engine runs (in memory, as WAHA's).
    activity: null,
    ...(shared.reason === undefined ? {} : { reason: shared.reason }),
  };
  return shared.worker === undefined ? base : { ...base, worker: shared.worker };
}

import type { Logger } from 'pino';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Lease, LeaseFence, LeaseStore } from '../storage/leases.js';
import type { SessionStore } from '../storage/sessions.js';

/** What the ownership loop needs of the session manager: start, let go, and ask. */
export interface LocalSessions {
  /**
   * Starts a session's engine here (the manager calls `claim` first, which returns the held fence),
   * or queues it for a start slot (`WA_PRESENCE_START_CONCURRENCY`): a takeover of many sessions
   * starts them a few at a time.
   */
  start(session: string): Promise<unknown>;
  /** Stops the session's engine here without changing whether it should run (the lease is gone). */
  detach(session: string): Promise<void>;
  hasEngine(session: string): boolean;
  /** Whether the session may move to another server now: WORKING (never one that is pairing or starting). */
  movable?(session: string): Promise<boolean>;
}

/**
 * Rebalancing: a server above its share (sessions ÷ live servers, rounded up) hands a few WORKING
 * sessions back every `everyMs`, and the servers below it take them at their next heartbeat. Each
 * move is a reconnect to WhatsApp, so moves are paced, never of a pairing session.
 */
export interface RebalancePolicy {
  /** Most sessions one server hands back at a time. */
  readonly perMove: number;
  /** Least time between two hand-backs of one server. */
  readonly everyMs: number;
}

/** 2 sessions every 5 s a server: a joining server fills in seconds, and WhatsApp sees a trickle of reconnects, not a storm. */
export const DEFAULT_REBALANCE: RebalancePolicy = { perMove: 2, everyMs: 5000 };

export interface OwnershipOptions {
  /** This server's id (`config.serverId`), the lease owner. Unique among live servers. */
  readonly serverId: string;
  readonly leases: LeaseStore;
  readonly sessions: Pick<SessionStore, 'list'>;
  readonly local: LocalSessions;
  /** Most sessions this server holds (`WA_PRESENCE_MAX_SESSIONS`). */
  readonly capacity: number;
  /** Lease length; a server that cannot renew within it loses its sessions to others. */
  readonly ttlMs: number;
  /** Time between heartbeats; a third of the TTL by default, so two can fail before a lease expires. */
  readonly heartbeatMs?: number;
  readonly logger: Logger;
  /** The same clock the lease store judges expiry by (milliseconds since the epoch). */
  readonly clock?: Clock;
  /**
   * How many sessions this server should hold at most right now, below the capacity (its fair
   * share of the sessions among the live servers), so that servers starting together spread the
   * sessions instead of the first one taking them all. Consulted by heartbeats, not by `claim`.
   */
  readonly share?: () => Promise<number>;
  /** Runs in every heartbeat right after the renewal (the server registry's refresh); a failure is logged, not fatal. */
  readonly onHeartbeat?: () => Promise<void>;
  /** Moves sessions to servers below their share (with `share`); null or absent: sessions stay where they run. */
  readonly rebalance?: RebalancePolicy | null;
}

export interface TickReport {
  /** Sessions whose lease this server held but did not get back: their engines were stopped. */
  readonly lost: readonly string[];
  /** Sessions taken in this heartbeat. */
  readonly acquired: readonly string[];
  /** Held sessions the user wants running whose engines were started (in the background). */
  readonly started: readonly string[];
  /** Sessions handed back to rebalance (their engines stopped, leases released), when any. */
  readonly handedBack?: readonly string[];
}

/**
 * Session ownership for one server among several on one PostgreSQL database. A heartbeat
 * (`tick`) renews this server's leases, stops at once the engines of sessions whose lease it did
 * not get back, takes free or expired sessions that the user wants running, up to the
 * capacity (and the fair share), and starts them. Everything a started engine writes to the credential
 * store carries the fence (owner, epoch) returned by `claim`, so a server paused past its lease
 * cannot overwrite the keys of the server that took the session over.
 */
export interface Ownership {
  /**
   * The fence under which this server may run `session`: the held lease, or a free one taken now
   * (within the capacity). Throws SESSION_OWNED_ELSEWHERE when another server holds it or this
   * one is full. The session manager calls it before starting an engine.
   */
  claim(session: string): Promise<LeaseFence>;
  /** One heartbeat. Heartbeats never overlap; call it directly in tests, or `start` the loop. */
  tick(): Promise<TickReport>;
  /** Runs `tick` now and then every heartbeat until `stop`. */
  start(): void;
  /** Ends the loop and waits for a heartbeat in progress. Leases are kept until `release`. */
  stop(): Promise<void>;
  /** Hands every lease back at once (SIGTERM, after the engines stopped): others take over without waiting for expiry. */
  release(): Promise<string[]>;
  /** Leases this server believes it holds, by session name. */
  held(): Lease[];
  /** Renewals done in the background (the renewer thread): extends the expiry of held leases they returned at the same epoch; takes nothing new. */
  refresh(renewed: readonly Lease[]): void;
  /** Resolves when the engine starts fired by heartbeats so far have ended or are queued for a start slot (tests). */
  idle(): Promise<void>;
}

export function createOwnership(options: OwnershipOptions): Ownership {
  const { serverId, leases, local, capacity, ttlMs } = options;
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(ttlMs / 3));
  if (heartbeatMs >= ttlMs) throw new RangeError(`lease heartbeat (${heartbeatMs} ms) must be shorter than the lease TTL (${ttlMs} ms)`);
  const clock = options.clock ?? systemClock;
  const logger = options.logger.child({ server: serverId });
  const held = new Map<string, Lease>();
  /** The epoch at which a heartbeat last started each session: it starts a session once per acquisition. */
  const startedAt = new Map<string, number>();
  const starts = new Set<Promise<void>>();
  let current: Promise<TickReport> | null = null;
  let timer: unknown = null;
  let running = false;
  let lastHandBack = Number.NEGATIVE_INFINITY;

  /** Hands back what is above this server's share, a few WORKING sessions at a time. */
  async function handBack(): Promise<string[]> {
    const policy = options.rebalance;
    if (policy === undefined || policy === null || options.share === undefined || local.movable === undefined) return [];
    if (clock.now() - lastHandBack < policy.everyMs) return [];
    const excess = held.size - (await options.share());
    if (excess <= 0) return [];
    const moving: string[] = [];
    for (const session of held.keys()) {
      if (moving.length >= Math.min(excess, policy.perMove)) break;
      if (await local.movable(session)) moving.push(session);
    }
    if (moving.length === 0) return [];
    lastHandBack = clock.now();
    for (const session of moving) {
      held.delete(session);
      startedAt.delete(session);
    }
    logger.info({ sessions: moving, excess }, 'handing sessions over to a less-loaded server (rebalance)');
    // The engine stops first, then the lease goes: no moment with two engines of one session.
    for (const session of moving) {
      try {
        await local.detach(session);
      } catch (error) {
        logger.error({ err: error, session }, 'could not stop a session handed over');
      }
    }
    await leases.release(serverId, moving);
    return moving;
  }

  async function detachAll(sessions: readonly string[], why: string): Promise<void> {
    if (sessions.length === 0) return;
    // Should a renewal return one of them after all, it is started again under its lease.
    for (const session of sessions) startedAt.delete(session);
    logger.warn({ sessions, why }, 'stopping sessions whose lease this server lost');
    await Promise.all(
      sessions.map(async (session) => {
        try {
          await local.detach(session);
        } catch (error) {
          logger.error({ err: error, session }, 'could not stop a session whose lease was lost');
        }
      }),
    );
  }

  function startInBackground(session: string): void {
    const task = (async () => {
      try {
        await local.start(session);
      } catch (error) {
        logger.error({ err: error, session }, 'could not start a session this server holds');
      }
    })();
    starts.add(task);
    void task.finally(() => starts.delete(task));
  }

  async function heartbeat(): Promise<TickReport> {
    // The renewal says which leases are still this server's, whatever the expiries in `held`
    // say: the renewer thread (src/storage/postgres/lease-renewer.ts) may have kept them alive through a stall of this
    // thread, and a lease that did run out is not returned (and is stopped below). A server that
    // was paused resumes here with every timer overdue, and its engines stop one query later.
    const before = new Map(held);
    let renewed: Lease[];
    try {
      renewed = await leases.renew(serverId, ttlMs);
    } catch (error) {
      logger.error({ err: error }, 'could not renew the session leases');
      // Unsure whether the leases live on: give them up a heartbeat before they can expire.
      const now = clock.now();
      const doubtful = [...held.values()].filter((lease) => lease.expiresAt - heartbeatMs <= now).map((lease) => lease.session);
      for (const session of doubtful) held.delete(session);
      await detachAll(doubtful, 'leases could not be renewed in time');
      return { lost: doubtful, acquired: [], started: [] };
    }
    const back = new Map(renewed.map((lease) => [lease.session, lease]));
    const lost: string[] = [];
    for (const [session, lease] of before) {
      // A claim that ran meanwhile replaced the entry: it is newer than this renewal.
      if (held.get(session) !== lease) continue;
      const again = back.get(session);
      if (again === undefined || again.epoch !== lease.epoch) {
        held.delete(session);
        lost.push(session);
      }
    }
    for (const lease of renewed) {
      const known = held.get(lease.session);
      if (known === undefined || known.epoch === lease.epoch) held.set(lease.session, lease);
    }
    await detachAll(lost, 'lease not renewed (expired or taken)');
    // After the renewal, which is what keeps the sessions here: a slow hook must not delay it.
    if (options.onHeartbeat !== undefined) {
      try {
        await options.onHeartbeat();
      } catch (error) {
        logger.error({ err: error }, 'heartbeat hook failed');
      }
    }

    // Only sessions the user wants running are taken: a stopped one has no owner, and whichever
    // server is asked to start it claims it then. A server that creates or starts a session takes
    // its lease before it marks it running (SessionManager), so a running session without a live
    // lease is one that nobody holds: no start in progress elsewhere can lose it to this heartbeat.
    const stored = await options.sessions.list();
    const wanted = stored.filter((session) => session.running && !held.has(session.name)).map((session) => session.name);
    let taken: Lease[] = [];
    if (wanted.length > 0) {
      const limit = options.share === undefined ? capacity : Math.min(capacity, await options.share());
      taken = await leases.acquire(serverId, { capacity: limit, ttlMs, sessions: wanted });
    }
    for (const lease of taken) held.set(lease.session, lease);
    if (taken.length > 0) logger.info({ sessions: taken.map((lease) => lease.session) }, 'sessions taken');

    const started: string[] = [];
    for (const session of stored) {
      const lease = held.get(session.name);
      if (lease === undefined || !session.running) continue;
      if (startedAt.get(session.name) === lease.epoch || local.hasEngine(session.name)) continue;
      startedAt.set(session.name, lease.epoch);
      started.push(session.name);
      startInBackground(session.name);
    }
    for (const session of startedAt.keys()) if (!held.has(session)) startedAt.delete(session);
    const handedBack = await handBack();
    return { lost, acquired: taken.map((lease) => lease.session), started, ...(handedBack.length === 0 ? {} : { handedBack }) };
  }

  const ownership: Ownership = {
    async claim(session) {
      const known = held.get(session);
      if (known !== undefined && known.expiresAt > clock.now()) return { owner: known.owner, epoch: known.epoch };
      // Ran out before a renewal (this server stalled): another server may have it by now. Ask
      // the database again; getting it back is a new epoch.
      if (known !== undefined) {
        held.delete(session);
        startedAt.delete(session);
      }
      const [taken] = await leases.acquire(serverId, { capacity, ttlMs, sessions: [session] });
      if (taken !== undefined) {
        held.set(session, taken);
        // The caller is starting it: the next heartbeat must not start it a second time.
        startedAt.set(session, taken.epoch);
        logger.info({ session, epoch: taken.epoch }, 'session taken on request');
        return { owner: taken.owner, epoch: taken.epoch };
      }
      const lease = await leases.get(session);
      if (lease !== null && lease.owner === serverId) {
        // Still this server's: the renewer thread kept it alive while this thread stalled.
        held.set(session, lease);
        startedAt.set(session, lease.epoch);
        return { owner: lease.owner, epoch: lease.epoch };
      }
      if (lease !== null) {
        throw new AppError('SESSION_OWNED_ELSEWHERE', `session "${session}" runs on server "${lease.owner}"; send the request there or retry`, {
          session,
          server: lease.owner,
        });
      }
      throw new AppError(
        'SESSION_OWNED_ELSEWHERE',
        `server "${serverId}" already runs its ${capacity} sessions (WA_PRESENCE_MAX_SESSIONS); a server with room takes session "${session}" over at its next heartbeat`,
        { session, server: null },
      );
    },

    tick() {
      const run = (current ?? Promise.resolve()).catch(() => undefined).then(heartbeat);
      current = run;
      void run.finally(() => {
        if (current === run) current = null;
      }).catch(() => undefined);
      return run;
    },

    start() {
      if (running) return;
      running = true;
      // Fixed rate, not fixed delay: a slow heartbeat (a loaded database) must not stretch the
      // time between renewals towards the TTL.
      const loop = (): void => {
        const begun = clock.now();
        void ownership.tick().then(
          () => undefined,
          (error: unknown) => logger.error({ err: error }, 'session heartbeat failed'),
        ).finally(() => {
          if (running) timer = clock.setTimeout(loop, Math.max(0, begun + heartbeatMs - clock.now()));
        });
      };
      loop();
    },

    async stop() {
      running = false;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      await current?.catch(() => undefined);
    },

    async release() {
      const released = await leases.release(serverId);
      held.clear();
      startedAt.clear();
      if (released.length > 0) logger.info({ sessions: released }, 'leases released');
      return released;
    },

    refresh(renewed) {
      for (const lease of renewed) {
        const known = held.get(lease.session);
        if (known !== undefined && known.epoch === lease.epoch && known.expiresAt < lease.expiresAt) held.set(lease.session, lease);
      }
    },

    held() {
      return [...held.values()].sort((a, b) => (a.session < b.session ? -1 : a.session > b.session ? 1 : 0));
    },

    async idle() {
      while (starts.size > 0) await Promise.allSettled([...starts]);
    },
  };
  return ownership;
}

import { AppError, isAppError } from '../errors.js';
import type { Me, SessionConfig, SessionInfo } from '../presence/sessions.js';
import type { StoredSession } from '../storage/sessions.js';
import type { SessionContext } from './context.js';
import { engineError } from './context.js';
import { forgetLogin, startEngine, stopEngine, wantRunning } from './engine-runs.js';
import { info, notFound, save, storedInfo } from './runtime.js';
import { assertSessionConfig, assertSessionName } from './validate.js';

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

/** The session commands (documented on `SessionManager`): listing, creating, starting, stopping, deleting. */
export interface SessionCommands {
  list(all: boolean): Promise<SessionInfo[]>;
  get(name: string): Promise<SessionInfo>;
  create(input: CreateSessionInput): Promise<SessionInfo>;
  update(name: string, config: SessionConfig): Promise<SessionInfo>;
  delete(name: string): Promise<void>;
  start(name: string): Promise<SessionInfo>;
  stop(name: string): Promise<SessionInfo>;
  restart(name: string): Promise<SessionInfo>;
  logout(name: string): Promise<SessionInfo>;
  me(name: string): Promise<Me | null>;
  resume(options: ResumeOptions): Promise<void>;
  shutdown(): Promise<void>;
  settled(name: string): Promise<void>;
  detach(name: string): Promise<void>;
  hasEngine(name: string): boolean;
}

export function sessionCommands(ctx: SessionContext): SessionCommands {
  const { storage, runtimes, ownership, logger } = ctx;
  const serverId = ownership.serverId;

  /** Several servers: a session that has no engine here, as the cluster sees it. */
  async function sharedInfo(name: string, sharedStatuses: NonNullable<typeof ownership.sharedStatuses>): Promise<SessionInfo> {
    const stored = await storage.sessions.get(name);
    if (stored === null) throw notFound(name);
    return storedInfo(stored, (await sharedStatuses([stored])).get(name));
  }

  const commands: SessionCommands = {
    async list(all) {
      const stored = await storage.sessions.list();
      const runsHere = (session: StoredSession): boolean => (runtimes.known(session.name)?.engine ?? null) !== null;
      // Several servers: sessions run here are answered from memory (exact), the others as the cluster sees them.
      const shared = ownership.sharedStatuses === undefined ? null : await ownership.sharedStatuses(stored.filter((session) => !runsHere(session)));
      const result: SessionInfo[] = [];
      for (const session of stored) {
        const runtime = runtimes.known(session.name);
        let sessionInfo: SessionInfo;
        if (runtime !== undefined && (shared === null || runtime.engine !== null)) sessionInfo = info(runtime, serverId);
        else sessionInfo = storedInfo(session, shared?.get(session.name));
        if (all || sessionInfo.status !== 'STOPPED') result.push(sessionInfo);
      }
      return result;
    },

    async get(name) {
      return info(await runtimes.require(name), serverId);
    },

    async create(input) {
      const name = input.name ?? 'default';
      assertSessionName(name);
      const config = input.config ?? {};
      assertSessionConfig(config);
      const now = ctx.clock.now();
      const stored: StoredSession = { name, engine: 'NOWEB', config, running: false, me: null, presence: null, createdAt: now, updatedAt: now };
      if (!(await storage.sessions.create(stored))) {
        throw new AppError('SESSION_EXISTS', `session "${name}" already exists`, { session: name });
      }
      logger.info({ session: name }, 'session created');
      if (input.start === false) return commands.get(name);
      try {
        return await commands.start(name);
      } catch (error) {
        // Several servers: the session exists and should run, but not here (another server took
        // its lease, or this one is full and a server with room will): it was created all the
        // same, so answer it as the cluster sees it instead of an error the client cannot act on.
        const sharedStatuses = ownership.sharedStatuses;
        if (sharedStatuses === undefined || !isAppError(error) || error.code !== 'SESSION_OWNED_ELSEWHERE') throw error;
        logger.info({ session: name, server: error.details?.['server'] ?? null }, 'session created; another server runs it');
        return sharedInfo(name, sharedStatuses);
      }
    },

    async update(name, config) {
      assertSessionConfig(config);
      const runtime = await runtimes.require(name);
      return runtime.control.run(async () => {
        await save(storage.sessions, runtime, { config }, ctx.clock.now());
        if (runtime.engine !== null) {
          await stopEngine(ctx, runtime);
          await startEngine(ctx, runtime);
        }
        return info(runtime, serverId);
      });
    },

    async delete(name) {
      const runtime = await runtimes.require(name);
      await runtime.control.run(async () => {
        await stopEngine(ctx, runtime);
        await runtime.events.idle();
        await storage.sessions.delete(name);
        // Its webhooks go with it: nothing more is sent to them, nor replayed under a later session of this name.
        await storage.outbox.cancelSession(name, ctx.clock.now());
        await ctx.history?.forget(name);
        runtimes.forget(name);
        logger.info({ session: name }, 'session deleted');
      });
    },

    async start(name) {
      const runtime = await runtimes.require(name);
      return runtime.control.run(async () => {
        await wantRunning(ctx, runtime);
        await startEngine(ctx, runtime);
        return info(runtime, serverId);
      });
    },

    async stop(name) {
      const runtime = await runtimes.require(name);
      return runtime.control.run(async () => {
        await stopEngine(ctx, runtime);
        if (runtime.stored.running) await save(storage.sessions, runtime, { running: false }, ctx.clock.now());
        return info(runtime, serverId);
      });
    },

    async restart(name) {
      const runtime = await runtimes.require(name);
      return runtime.control.run(async () => {
        await stopEngine(ctx, runtime);
        await wantRunning(ctx, runtime);
        await startEngine(ctx, runtime);
        return info(runtime, serverId);
      });
    },

    async logout(name) {
      const runtime = await runtimes.require(name);
      return runtime.control.run(async () => {
        if (runtime.engine !== null && runtime.launched) {
          try {
            await runtime.engine.logout();
          } catch (error) {
            throw engineError(name, 'log out', error);
          }
          await stopEngine(ctx, runtime);
        } else {
          // Still waiting for a start slot, it has no connection to unlink through: it gives up its turn.
          if (runtime.engine !== null) await stopEngine(ctx, runtime);
          await storage.auth.forSession(name).clear();
        }
        await forgetLogin(ctx, runtime);
        await save(storage.sessions, runtime, { running: false }, ctx.clock.now());
        runtime.logger.info('logged out');
        return info(runtime, serverId);
      });
    },

    async me(name) {
      return (await runtimes.require(name)).stored.me;
    },

    async resume(options) {
      for (const name of options.startSessions) {
        try {
          if ((await runtimes.find(name)) === null) await commands.create({ name, start: false });
        } catch (error) {
          logger.error({ err: error, session: name }, 'could not create a session from WHATSAPP_START_SESSION');
        }
      }
      const wanted = new Set(options.startSessions);
      for (const stored of await storage.sessions.list()) {
        if (!stored.running && !options.restartAll && !wanted.has(stored.name)) continue;
        try {
          await commands.start(stored.name);
        } catch (error) {
          logger.error({ err: error, session: stored.name }, 'could not resume the session');
        }
      }
    },

    async shutdown() {
      await Promise.all(
        runtimes.all().map((runtime) =>
          runtime.control.run(async () => {
            if (runtime.engine !== null) await stopEngine(ctx, runtime);
            await runtime.events.idle();
          }),
        ),
      );
    },

    async settled(name) {
      const runtime = await runtimes.require(name);
      await runtime.events.idle();
      // An engine's own final stop is handled on the control queue (see releaseEngine).
      await runtime.control.idle();
      await runtime.renewal?.done;
      await runtime.events.idle();
    },

    async detach(name) {
      const runtime = runtimes.known(name);
      if (runtime === undefined) return;
      await runtime.control.run(async () => {
        if (runtime.engine !== null) await stopEngine(ctx, runtime);
        await runtime.events.idle();
        // Another server now changes what is stored; a later request here loads it afresh.
        if (runtimes.known(name) === runtime) runtimes.forget(name);
      });
    },

    hasEngine(name) {
      return (runtimes.known(name)?.engine ?? null) !== null;
    },
  };
  return commands;
}

import type { Engine } from '../engines/engine.js';
import { AppError } from '../errors.js';
import type { ChatPresenceStatus, GlobalPresence } from '../presence/status.js';
import type { ChatPresence } from '../presence/types.js';
import type { StoredSubscription } from '../storage/presence.js';
import type { SessionContext } from './context.js';
import { engineError } from './context.js';
import { save } from './runtime.js';
import type { Runtime } from './runtime.js';

/** Presence commands and login codes: what a client asks of a session's engine and presence store. */
export interface PresenceCommands {
  qr(name: string): Promise<string>;
  requestPairingCode(name: string, phoneNumber: string): Promise<string>;
  setPresence(name: string, presence: GlobalPresence): Promise<void>;
  setChatPresence(name: string, chatId: string, presence: ChatPresenceStatus, options?: { readonly durationMs?: number }): Promise<void>;
  subscribe(name: string, chatId: string): Promise<void>;
  listSubscriptions(name: string): Promise<StoredSubscription[]>;
  unsubscribe(name: string, chatId: string): Promise<boolean>;
  getPresence(name: string, chatId: string): Promise<ChatPresence>;
  /** Ordered by chat id; the array may be shared with the next callers: do not modify it. */
  listPresence(name: string): Promise<readonly ChatPresence[]>;
  /**
   * What `getPresence` would answer, when the answer is in memory already (the session WORKING
   * here, the chat subscribed and cached); else `undefined`, and `getPresence` is the way.
   * Synchronous: the common read costs no promise.
   */
  knownPresence(name: string, chatId: string): ChatPresence | undefined;
  /** What `listPresence` would answer, when the cache holds every chat; else `undefined`. */
  knownPresenceList(name: string): readonly ChatPresence[] | undefined;
}

export function presenceCommands(ctx: SessionContext): PresenceCommands {
  const { storage, runtimes } = ctx;

  /** The session's runtime when it is loaded and WORKING with an engine here. */
  function workingHere(name: string): Runtime | undefined {
    const runtime = runtimes.known(name);
    return runtime !== undefined && runtime.status === 'WORKING' && runtime.engine !== null ? runtime : undefined;
  }

  /** SESSION_NOT_WORKING carries the status: the HTTP side says what to do about it (src/http/errors.ts). */
  async function requireWorking(name: string): Promise<{ runtime: Runtime; engine: Engine }> {
    const runtime = await runtimes.require(name);
    const engine = runtime.engine;
    if (runtime.status !== 'WORKING' || engine === null) {
      const why = runtime.reason === null ? '' : ` (${runtime.reason})`;
      throw new AppError('SESSION_NOT_WORKING', `session "${name}" is ${runtime.status}, not WORKING${why}`, {
        session: name,
        status: runtime.status,
      });
    }
    return { runtime, engine };
  }

  return {
    async qr(name) {
      const runtime = await runtimes.require(name);
      if (runtime.status !== 'SCAN_QR_CODE' || runtime.qr === null) {
        throw new AppError('QR_NOT_AVAILABLE', `session "${name}" is ${runtime.status}; a QR code exists only in SCAN_QR_CODE`, {
          session: name,
          status: runtime.status,
        });
      }
      return runtime.qr;
    },

    async requestPairingCode(name, phoneNumber) {
      const runtime = await runtimes.require(name);
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
      runtime.activity = ctx.clock.now();
      // Remembered so that a reconnect re-sends it (WhatsApp forgets it with the connection).
      if (runtime.stored.presence !== presence) await save(storage.sessions, runtime, { presence }, ctx.clock.now());
    },

    async setChatPresence(name, chatId, presence, options) {
      const { runtime, engine } = await requireWorking(name);
      try {
        await engine.setChatPresence(chatId, presence, options);
      } catch (error) {
        throw engineError(name, `send ${presence} to ${chatId}`, error);
      }
      // WAHA's `timestamps.activity`: the last thing the client did through the session (typing, presence, subscribing).
      runtime.activity = ctx.clock.now();
    },

    async subscribe(name, chatId) {
      const { runtime, engine } = await requireWorking(name);
      try {
        await engine.subscribe(chatId);
      } catch (error) {
        throw engineError(runtime.name, `subscribe to ${chatId}`, error);
      }
      runtime.activity = ctx.clock.now();
      runtime.unsubscribed.delete(chatId);
      await storage.subscriptions.add(runtime.name, chatId, ctx.clock.now());
      if (!runtime.unsubscribed.has(chatId)) runtime.subscribed.add(chatId);
    },

    async listSubscriptions(name) {
      await runtimes.require(name);
      return storage.subscriptions.list(name);
    },

    async unsubscribe(name, chatId) {
      const runtime = await runtimes.require(name);
      // Before the store: a renewal that reads its list before the removal commits still skips the chat.
      runtime.unsubscribed.add(chatId);
      runtime.subscribed.delete(chatId);
      const removed = await storage.subscriptions.remove(name, chatId);
      runtime.logger.info({ chatId, removed }, 'presence subscription removed; renewed no more');
      return removed;
    },

    async getPresence(name, chatId) {
      const { runtime, engine } = await requireWorking(name);
      // Stored first: `add` tells whether the chat is new, in one step, without listing them all.
      if (!runtime.subscribed.has(chatId)) {
        if (await storage.subscriptions.add(name, chatId, ctx.clock.now())) {
          runtime.unsubscribed.delete(chatId);
          try {
            await engine.subscribe(chatId);
          } catch (error) {
            await storage.subscriptions.remove(name, chatId);
            throw engineError(runtime.name, `subscribe to ${chatId}`, error);
          }
        }
        // Not when an unsubscribe began meanwhile: the next read stores the chat again.
        if (!runtime.unsubscribed.has(chatId)) runtime.subscribed.add(chatId);
      }
      const cached = runtime.presence.get(chatId);
      if (cached !== undefined) return cached ?? { id: chatId, presences: [] };
      const version = runtime.presence.version();
      const stored = await storage.presence.get(name, chatId);
      runtime.presence.remember(version, chatId, stored);
      return stored ?? { id: chatId, presences: [] };
    },

    knownPresence(name, chatId) {
      const runtime = workingHere(name);
      if (runtime === undefined || !runtime.subscribed.has(chatId)) return undefined;
      const cached = runtime.presence.get(chatId);
      if (cached === undefined) return undefined;
      return cached ?? { id: chatId, presences: [] };
    },

    knownPresenceList(name) {
      return workingHere(name)?.presence.list();
    },

    async listPresence(name) {
      const { runtime } = await requireWorking(name);
      const cached = runtime.presence.list();
      if (cached !== undefined) return cached;
      const version = runtime.presence.version();
      const chats = await storage.presence.list(name);
      runtime.presence.fill(version, chats);
      return chats;
    },
  };
}

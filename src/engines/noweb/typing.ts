import type { Logger } from 'pino';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { ChatPresenceStatus } from '../../presence/status.js';


/**
 * WhatsApp clients drop a "typing…" after roughly 10–25 s without a refresh; WhatsApp Web resends
 * every ~10 s while the user types. We do the same.
 */
export const TYPING_REFRESH_MS = 10_000;

export type ActiveChatState = Exclude<ChatPresenceStatus, 'paused'>;

export interface TypingKeeperOptions {
  /** Sends one chat state to one JID. */
  readonly send: (jid: string, state: ChatPresenceStatus) => Promise<void>;
  readonly logger: Logger;
  readonly refreshMs?: number;
  /** The refresh and end timers; a test passes its own clock. */
  readonly clock?: Clock;
}

export interface TypingKeeper {
  /** Sends `state` now and keeps re-sending it until `pause`, `durationMs`, or `stopAll`. */
  start(jid: string, state: ActiveChatState, durationMs?: number): Promise<void>;
  /** Ends the chat's typing (if any) and sends `paused`. */
  pause(jid: string): Promise<void>;
  /**
   * Ends every typing; with `sendPaused`, tells each chat `paused` first so no "typing…" stays
   * stuck on the other side. Never rejects: failures are logged (the connection may be gone).
   */
  stopAll(sendPaused: boolean): Promise<void>;
  /** JIDs with a typing being kept alive. */
  active(): string[];
}

interface Entry {
  readonly state: ActiveChatState;
  readonly refresh: unknown;
  readonly end: unknown;
}

export function createTypingKeeper(options: TypingKeeperOptions): TypingKeeper {
  const { send, logger } = options;
  const clock = options.clock ?? systemClock;
  const refreshMs = options.refreshMs ?? TYPING_REFRESH_MS;
  const entries = new Map<string, Entry>();
  /** Bumped by every stopAll: a start whose first send was under way then must keep nothing alive. */
  let epoch = 0;

  const cancel = (jid: string): boolean => {
    const entry = entries.get(jid);
    if (entry === undefined) return false;
    clock.clearInterval(entry.refresh);
    if (entry.end !== undefined) clock.clearTimeout(entry.end);
    entries.delete(jid);
    return true;
  };

  const sendLogged = async (jid: string, state: ChatPresenceStatus, what: string): Promise<void> => {
    try {
      await send(jid, state);
    } catch (error) {
      // A refresh that fails (connection dropping) is retried by the next tick; nothing to undo.
      logger.warn({ err: error, jid, state }, what);
    }
  };

  const pause = async (jid: string): Promise<void> => {
    cancel(jid);
    await send(jid, 'paused');
  };

  return {
    async start(jid, state, durationMs) {
      cancel(jid);
      const startedIn = epoch;
      await send(jid, state);
      if (epoch !== startedIn) {
        // A stop or logout overtook this start while its first send was on the way: a refresh timer
        // set now would outlive the connection. End the state if the connection still takes it.
        await sendLogged(jid, 'paused', 'failed to end a typing that a stop overtook');
        return;
      }
      // Another start of the same chat may have finished while this one was sending: one timer a chat.
      cancel(jid);
      const refresh = clock.setInterval(() => {
        void sendLogged(jid, state, 'failed to refresh typing');
      }, refreshMs);
      const end = durationMs === undefined
        ? undefined
        : clock.setTimeout(() => {
          if (entries.get(jid)?.refresh !== refresh) return;
          cancel(jid);
          void sendLogged(jid, 'paused', 'failed to end typing after its duration');
        }, durationMs);
      entries.set(jid, { state, refresh, end });
    },
    pause,
    async stopAll(sendPaused) {
      epoch += 1;
      const jids = [...entries.keys()];
      for (const jid of jids) cancel(jid);
      if (!sendPaused) return;
      await Promise.all(jids.map((jid) => sendLogged(jid, 'paused', 'failed to send paused while stopping typing')));
    },
    active: () => [...entries.keys()],
  };
}

import { Browsers, makeWASocket, proto } from 'baileys';
import type { AuthenticationState, WASocket } from 'baileys';
import type { Logger } from 'pino';
import { baileysLogger } from './baileys-logger.js';

/** The overrides of NowebEngineOptions that reach the socket. */
export interface SocketOverrides {
  readonly waWebSocketUrl?: string;
  readonly testQrTimeoutMs?: number;
}

/**
 * History syncs worth downloading: the initial bootstrap and push names carry the phone-number ↔ LID
 * mappings (presence increasingly arrives from LIDs) and contacts' names, and are small and one-off.
 * Message history (RECENT, FULL, ON_DEMAND) is skipped: a presence server needs none, and declining
 * RECENT also spares the 20 s "awaiting initial sync" wait on first login. Disabling every type
 * (`() => false`) makes Baileys warn that LID mappings go missing, rightly.
 */
const USEFUL_HISTORY = new Set<proto.Message.HistorySyncType | null | undefined>([
  proto.Message.HistorySyncType.INITIAL_BOOTSTRAP,
  proto.Message.HistorySyncType.PUSH_NAME,
]);

/** A Baileys socket for one connection of a session, logging in (or pairing) with `auth`. */
export function createSocket(auth: AuthenticationState, logger: Logger, markOnline: boolean, overrides: SocketOverrides): WASocket {
  return makeWASocket({
    auth,
    logger: baileysLogger(logger),
    browser: Browsers.ubuntu('Chrome'),
    markOnlineOnConnect: markOnline,
    syncFullHistory: false,
    shouldSyncHistoryMessage: (notification) => USEFUL_HISTORY.has(notification.syncType),
    ...(overrides.waWebSocketUrl === undefined ? {} : { waWebSocketUrl: overrides.waWebSocketUrl }),
    ...(overrides.testQrTimeoutMs === undefined ? {} : { qrTimeout: overrides.testQrTimeoutMs }),
  });
}

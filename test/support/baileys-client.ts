import type { AuthenticationState, ConnectionState, SignalDataSet, SignalDataTypeMap, SignalKeyStore, WASocket } from 'baileys';
import { DisconnectReason, initAuthCreds, makeWASocket } from 'baileys';
import { pino } from 'pino';
import { trustSandboxRoot } from '../../src/sandbox/client.js';
import type { Sandbox } from '../../src/sandbox/index.js';

/**
 * A raw Baileys client joined to a sandbox, for tests and the bench: trusts the sandbox root,
 * keeps its auth state in memory, logs nothing, skips history sync, and handles the 515 "restart
 * required" that ends pairing by reconnecting with the same credentials, as an engine must.
 */

/** Keys in memory: what Baileys' multi-file auth state does, minus the files. */
export function memoryKeyStore(): SignalKeyStore {
  const data = new Map<string, Map<string, unknown>>();
  return {
    get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const out: Record<string, SignalDataTypeMap[T]> = {};
      const bucket = data.get(type);
      for (const id of ids) {
        const value = bucket?.get(id);
        if (value !== undefined) out[id] = value as SignalDataTypeMap[T];
      }
      return out;
    },
    set(update: SignalDataSet) {
      for (const [type, entries] of Object.entries(update)) {
        let bucket = data.get(type);
        if (!bucket) data.set(type, (bucket = new Map<string, unknown>()));
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value === null || value === undefined) bucket.delete(id);
          else bucket.set(id, value);
        }
      }
    },
  };
}

export function memoryAuthState(): AuthenticationState {
  return { creds: initAuthCreds(), keys: memoryKeyStore() };
}

export interface ClientOptions {
  /** Reuse credentials (a known device logging in again); default: fresh, so the client pairs. */
  readonly auth?: AuthenticationState;
  /** How the QR gets scanned when pairing: 'network' (in-process, default), or a function, or 'none' (the test scans). */
  readonly scan?: 'network' | 'none' | ((qr: string) => Promise<unknown>);
  /** Pair to this existing account number instead of a fresh one. */
  readonly phone?: string;
  /** Push name for a fresh account. */
  readonly name?: string;
  /** Baileys' markOnlineOnConnect (default true: the client sends available when open). */
  readonly markOnlineOnConnect?: boolean;
  /**
   * Link by phone number instead of a QR scan: at the first QR the client asks for a pairing code for
   * `phone` (Baileys' requestPairingCode) and hands it to `enter`, which types it on the phone; no QR
   * is scanned. A rejection of `enter` fails the connect.
   */
  readonly linkCode?: { readonly phone: string; readonly enter: (code: string) => Promise<unknown> };
  /** Called with each QR the client shows. */
  readonly onQr?: (qr: string) => void;
  /** Give up after this long (default 25 s: pairing a fresh client costs ~1 s of CPU, more on a loaded machine). */
  readonly timeoutMs?: number;
  /** Baileys' connect and query timeouts (default 20 s): raise them when many clients share a busy machine. */
  readonly baileysTimeoutMs?: number;
}

export interface SandboxClient {
  /** The open socket (after a pairing restart, the second one). */
  readonly sock: WASocket;
  readonly auth: AuthenticationState;
  /** `<phone>@s.whatsapp.net`. */
  readonly jid: string;
  readonly phone: string;
  /** Ends the socket without logging out. */
  close(): void;
}

const silent = pino({ level: 'silent' });

function openSocket(sandbox: Pick<Sandbox, 'url'>, auth: AuthenticationState, options: ClientOptions): WASocket {
  return makeWASocket({
    waWebSocketUrl: sandbox.url,
    auth,
    logger: silent,
    shouldSyncHistoryMessage: () => false,
    markOnlineOnConnect: options.markOnlineOnConnect ?? true,
    connectTimeoutMs: options.baileysTimeoutMs ?? 20_000,
    defaultQueryTimeoutMs: options.baileysTimeoutMs ?? 20_000,
    // Ping often enough to notice a dead link, and give a starved event loop room before "connection lost".
    keepAliveIntervalMs: Math.max(30_000, options.baileysTimeoutMs ?? 0),
  });
}

function statusOf(update: Partial<ConnectionState>): number | undefined {
  const error = update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined;
  return error?.output?.statusCode;
}

/** Connects a Baileys client to the sandbox, pairing it first if its credentials are fresh; resolves when open. */
export async function connectClient(sandbox: Pick<Sandbox, 'url' | 'network'>, options: ClientOptions = {}): Promise<SandboxClient> {
  trustSandboxRoot();
  const auth = options.auth ?? memoryAuthState();
  const deadline = Date.now() + (options.timeoutMs ?? 25_000);
  for (let attempt = 0; attempt < 3; attempt++) {
    const sock = openSocket(sandbox, auth, options);
    const outcome = await new Promise<'open' | 'restart'>((resolve, reject) => {
      const timer = setTimeout(() => {
        void sock.end(undefined);
        reject(new Error('sandbox client did not open in time'));
      }, Math.max(1, deadline - Date.now()));
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        void sock.end(undefined);
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      let codeRequested = false;
      sock.ev.on('connection.update', (update) => {
        if (update.qr !== undefined) {
          options.onQr?.(update.qr);
          const scan = options.scan ?? 'network';
          const linkCode = options.linkCode;
          if (linkCode !== undefined) {
            if (!codeRequested) {
              codeRequested = true;
              sock.requestPairingCode(linkCode.phone).then(linkCode.enter).catch(fail);
            }
          } else if (scan !== 'none') {
            const scanned = typeof scan === 'function'
              ? scan(update.qr)
              : sandbox.network.scan({ qr: update.qr, ...(options.phone === undefined ? {} : { phone: options.phone }), ...(options.name === undefined ? {} : { name: options.name }) });
            scanned.catch(fail);
          }
        }
        if (update.connection === 'open') {
          clearTimeout(timer);
          resolve('open');
        } else if (update.connection === 'close') {
          clearTimeout(timer);
          const status = statusOf(update);
          if (status === DisconnectReason.restartRequired) resolve('restart');
          else reject(new Error(`sandbox client closed with status ${String(status)}`, { cause: update.lastDisconnect?.error }));
        }
      });
    });
    if (outcome === 'open') {
      const me = auth.creds.me?.id ?? '';
      const phone = me.split('@')[0]?.split(':')[0] ?? '';
      return { sock, auth, jid: `${phone}@s.whatsapp.net`, phone, close: () => void sock.end(undefined) };
    }
  }
  throw new Error('sandbox client kept asking to restart');
}

/** One presence as Baileys reported it in `presence.update`. */
export interface SeenPresence {
  /** The chat (user or group JID). */
  readonly chat: string;
  /** Who (for groups, the participant; for direct chats, the chat). */
  readonly participant: string;
  readonly presence: string;
  readonly lastSeen: number | undefined;
  readonly at: number;
}

/** Records every `presence.update` a client gets, and waits for the next one matching a predicate. */
export interface PresenceRecorder {
  readonly seen: readonly SeenPresence[];
  /** The first update after the call (or already seen after `from`) matching `match`. */
  next(match: (seen: SeenPresence) => boolean, options?: { timeoutMs?: number }): Promise<SeenPresence>;
}

export function recordPresence(client: SandboxClient): PresenceRecorder {
  const seen: SeenPresence[] = [];
  const waiters = new Set<{ match: (s: SeenPresence) => boolean; resolve: (s: SeenPresence) => void }>();
  client.sock.ev.on('presence.update', ({ id, presences }) => {
    for (const [participant, value] of Object.entries(presences)) {
      const entry: SeenPresence = { chat: id, participant, presence: value.lastKnownPresence, lastSeen: value.lastSeen, at: Date.now() };
      seen.push(entry);
      for (const waiter of [...waiters]) {
        if (waiter.match(entry)) {
          waiters.delete(waiter);
          waiter.resolve(entry);
        }
      }
    }
  });
  return {
    seen,
    next(match, options = {}) {
      return new Promise<SeenPresence>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (entry: SeenPresence) => {
            clearTimeout(timer);
            resolve(entry);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching presence within ${options.timeoutMs ?? 5000} ms; seen: ${JSON.stringify(seen)}`));
        }, options.timeoutMs ?? 5000);
        waiters.add(waiter);
      });
    },
  };
}


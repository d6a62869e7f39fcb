import type { BinaryNode, ConnectionState, WASocket } from 'baileys';
import { AppError } from '../../errors.js';
import type { ChatPresenceStatus, GlobalPresence, SessionStatus } from '../../presence/status.js';
import type { Engine, EngineContext } from '../engine.js';
import { loadAuthState } from './auth-state.js';
import type { StoredAuthState } from './auth-state.js';
import { backoffDelay } from '../../backoff.js';
import { classifyClose } from './connection.js';
import type { BackoffPolicy } from '../../backoff.js';
import { CHAT_PRESENCE_OUT, GLOBAL_PRESENCE_OUT, mapIncomingNode, preferPhoneNumbers, toChatId, toWhatsAppJid } from './presence-map.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { createTypingKeeper } from './typing.js';
import type { TypingKeeper } from './typing.js';
import { linked, pendingCodeRequest } from './creds.js';
import { createSocket } from './socket.js';

/** What every engine of one factory shares: where WhatsApp is and how to retry. */
export interface NowebEngineOptions {
  /** Overrides Baileys' `wss://web.whatsapp.com/ws/chat` (the sandbox). */
  readonly waWebSocketUrl?: string;
  readonly backoff: BackoffPolicy;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** How long `requestPairingCode` waits for the socket to be ready for pairing. */
  readonly pairingWaitMs?: number;
  /**
   * Test only: how long each QR lives (Baileys' `qrTimeout`). Unset, Baileys' default holds: 60 s the
   * first, 20 s each next, and the connection ends after the last of the sandbox's (or WhatsApp's) refs.
   */
  readonly testQrTimeoutMs?: number;
}

interface Connection {
  readonly socket: WASocket;
  readonly closed: Promise<void>;
  open: boolean;
}

function closeInfoOf(update: Partial<ConnectionState>): { statusCode: number | undefined; message: string | undefined } {
  const error = update.lastDisconnect?.error as (Error & { output?: { statusCode?: number } }) | undefined;
  return { statusCode: error?.output?.statusCode, message: error?.message };
}

/**
 * One session's WhatsApp connection through Baileys: connects, pairs, reconnects after drops with
 * backoff, stops for good on the close reasons that need a person, and reports everything through
 * `context.emit`.
 */
export function createNowebEngine(context: EngineContext, options: NowebEngineOptions): Engine {
  const { logger } = context;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const markOnline = context.config.noweb?.markOnline ?? true;

  let status: SessionStatus = 'STOPPED';
  /** True between start() and stop()/logout()/a final failure: the engine wants to be connected. */
  let wanted = false;
  let auth: StoredAuthState | null = null;
  let connection: Connection | null = null;
  let attempt = 0;
  let reconnectTimer: unknown;
  let qrWaiters: (() => void)[] = [];

  const setStatus = (next: SessionStatus, reason?: string, unlinked = false): void => {
    if (next === status) return;
    status = next;
    context.emit({ type: 'status', status: next, ...(reason === undefined ? {} : { reason }), ...(unlinked ? { unlinked } : {}) });
  };

  const openSocket = (): WASocket => {
    if (connection === null || !connection.open) {
      throw new AppError('SESSION_NOT_WORKING', `Session "${context.session}" is not connected to WhatsApp (status ${status}); start it and wait for WORKING`);
    }
    return connection.socket;
  };

  const typing: TypingKeeper = createTypingKeeper({
    send: async (jid: string, state: ChatPresenceStatus) => {
      await openSocket().sendPresenceUpdate(CHAT_PRESENCE_OUT[state], jid);
    },
    logger,
    clock,
  });

  /** LIDs the client subscribed to by LID: their presence keeps the LID form. */
  const subscribedLids = new Set<string>();
  /** Incoming presence is emitted strictly in arrival order, LID lookups notwithstanding. */
  let incoming: Promise<void> = Promise.resolve();

  const onNode = (socket: WASocket, node: BinaryNode): void => {
    const mapped = mapIncomingNode(node);
    if (mapped === null) return;
    const lookup = (lid: string): Promise<string | null> => socket.signalRepository.lidMapping.getPNForLID(lid);
    incoming = incoming
      .then(async () => {
        const resolved = await preferPhoneNumbers(mapped, lookup, (id) => subscribedLids.has(id));
        context.emit({ type: 'presence', chatId: resolved.chatId, presences: resolved.presences });
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'failed to report an incoming presence');
      });
  };

  const emitMe = (state: StoredAuthState): void => {
    const me = state.state.creds.me;
    const id = toChatId(me?.id);
    if (me === undefined || id === null) return;
    // `me.id` is the device's own jid (`<digits>:<device>@s.whatsapp.net`): WAHA's `MeInfo.jid`.
    context.emit({ type: 'me', me: { id, pushName: me.name ?? null, lid: toChatId(me.lid), jid: me.id } });
  };

  const finalStop = async (next: SessionStatus, reason: string, wipeAuth: boolean): Promise<void> => {
    wanted = false;
    await typing.stopAll(false);
    if (wipeAuth) {
      auth?.disable();
      try {
        await context.auth.clear();
      } catch (error) {
        logger.error({ err: error }, 'failed to wipe credentials that WhatsApp no longer accepts');
      }
    }
    setStatus(next, reason, wipeAuth);
  };

  const scheduleReconnect = (): void => {
    attempt += 1;
    const delay = backoffDelay(options.backoff, attempt, random);
    logger.info({ attempt, delayMs: delay }, 'connection lost; reconnecting');
    setStatus('STARTING', `Connection to WhatsApp lost; reconnecting (attempt ${attempt})`);
    reconnectTimer = clock.setTimeout(() => {
      reconnectTimer = undefined;
      if (wanted) connect();
    }, delay);
  };

  const onClose = (update: Partial<ConnectionState>): void => {
    if (!wanted || auth === null) return;
    const { statusCode, message } = closeInfoOf(update);
    const action = classifyClose({ statusCode, message, registered: linked(auth.state.creds) });
    logger.info({ statusCode, message, action: action.kind }, 'connection closed');
    switch (action.kind) {
      case 'restart':
        // 515 after pairing: WhatsApp wants a fresh login with the credentials it just issued.
        setStatus('STARTING');
        connect();
        return;
      case 'reconnect':
        scheduleReconnect();
        return;
      case 'stop':
        finalStop(action.status, action.reason, action.wipeAuth).catch((error: unknown) => {
          logger.error({ err: error }, 'failed to stop after a final close');
        });
        return;
    }
  };

  function connect(): void {
    const state = auth;
    if (state === null) return;
    if (pendingCodeRequest(state.state.creds)) {
      // A code requested on an earlier connection links nothing now (WhatsApp ties it to that
      // connection), and with `me` set Baileys would log in as the phone itself (device 0) instead of
      // asking to be paired: forget the request, so this connection shows a QR again.
      logger.info('the pairing code requested on the previous connection expired with it; request a new one');
      delete state.state.creds.me;
      state.state.creds.pairingCode = undefined;
    }
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const socket = createSocket(state.state, logger, markOnline, options);
    const current: Connection = { socket, closed, open: false };
    connection = current;
    socket.ev.on('creds.update', (update) => {
      state.saveCreds().catch((error: unknown) => {
        logger.error({ err: error }, 'failed to save credentials');
      });
      // The push name can arrive after open (app-state sync): tell the session layer.
      if (current.open && update.me?.name !== undefined) emitMe(state);
    });
    // Baileys' own handlers for these two tags only turn the node into a lossy `presence.update`
    // (paused → available, last="deny" dropped) that nothing here listens to: we map the raw nodes
    // instead, so its handlers go, and every incoming presence is decoded once, not twice.
    socket.ws.removeAllListeners('CB:presence');
    socket.ws.removeAllListeners('CB:chatstate');
    socket.ws.on('CB:presence', (node: BinaryNode) => onNode(socket, node));
    socket.ws.on('CB:chatstate', (node: BinaryNode) => onNode(socket, node));
    socket.ev.on('connection.update', (update) => {
      if (connection !== current) return;
      if (update.qr !== undefined) {
        setStatus('SCAN_QR_CODE');
        context.emit({ type: 'qr', value: update.qr });
        const waiters = qrWaiters;
        qrWaiters = [];
        for (const wake of waiters) wake();
      }
      if (update.connection === 'open') {
        current.open = true;
        attempt = 0;
        emitMe(state);
        setStatus('WORKING');
      }
      if (update.connection === 'close') {
        current.open = false;
        connection = null;
        resolveClosed();
        onClose(update);
      }
    });
  }

  /** Ends the current socket (if any) and waits until Baileys has closed it. */
  const closeConnection = async (how: 'end' | 'logout'): Promise<void> => {
    const current = connection;
    if (current === null) return;
    if (how === 'logout' && current.open) {
      try {
        await current.socket.logout();
      } catch (error) {
        // The device is unlinked on our side anyway (credentials wiped below); say what happened.
        logger.warn({ err: error }, 'could not tell WhatsApp about the logout');
        await current.socket.end(undefined);
      }
    } else {
      await current.socket.end(undefined);
    }
    await current.closed;
  };

  const shutDown = async (how: 'end' | 'logout'): Promise<void> => {
    wanted = false;
    if (reconnectTimer !== undefined) {
      clock.clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
    }
    // Before the socket goes: a chat left "typing…" stays so on the other side for up to ~25 s.
    await typing.stopAll(connection?.open === true);
    await closeConnection(how);
  };

  return {
    async start() {
      if (wanted) return;
      wanted = true;
      attempt = 0;
      setStatus('STARTING');
      try {
        auth = await loadAuthState(context.auth);
      } catch (error) {
        wanted = false;
        setStatus('FAILED', 'Could not read the session credentials from storage; check the database and start again');
        throw new AppError('ENGINE_FAILED', `Could not read the credentials of session "${context.session}"`, undefined, { cause: error });
      }
      connect();
    },

    async stop() {
      await shutDown('end');
      if (auth !== null) {
        try {
          await auth.saveCreds();
        } catch (error) {
          logger.error({ err: error }, 'failed to save credentials while stopping');
        }
      }
      setStatus('STOPPED');
    },

    async logout() {
      // Nothing more may be written once we start wiping, whatever the closing socket still flushes.
      auth?.disable();
      await shutDown('logout');
      auth = null;
      try {
        await context.auth.clear();
      } catch (error) {
        throw new AppError('ENGINE_FAILED', `Could not wipe the credentials of session "${context.session}"`, undefined, { cause: error });
      }
      setStatus('STOPPED', 'Logged out: the device was unlinked and its credentials deleted. Start the session and scan a new QR code to link it again.', true);
    },

    async setPresence(presence: GlobalPresence) {
      const socket = openSocket();
      if (auth?.state.creds.me?.name === undefined || auth.state.creds.me.name === '') {
        // Baileys would log a warning and send nothing: the client would think it worked.
        throw new AppError(
          'PUSH_NAME_MISSING',
          'This WhatsApp account has no push name (profile name), and WhatsApp ignores online/offline from such accounts. Set a name in WhatsApp > Settings > Profile on the phone, then restart the session.',
        );
      }
      try {
        await socket.sendPresenceUpdate(GLOBAL_PRESENCE_OUT[presence]);
      } catch (error) {
        throw new AppError('ENGINE_FAILED', `Could not send presence "${presence}" to WhatsApp; the connection may be dropping, try again`, undefined, { cause: error });
      }
    },

    async setChatPresence(chatId, presence, setOptions) {
      const jid = toWhatsAppJid(chatId);
      const durationMs = setOptions?.durationMs;
      if (durationMs !== undefined && (!Number.isInteger(durationMs) || durationMs <= 0)) {
        throw new AppError('VALIDATION_FAILED', `durationMs must be a positive whole number of milliseconds, got ${durationMs}`);
      }
      openSocket();
      if (!wanted) {
        // Stopping or logging out: a typing started now would outlive the connection.
        throw new AppError('SESSION_NOT_WORKING', `Session "${context.session}" is stopping; start it again to send "${presence}"`);
      }
      try {
        if (presence === 'paused') await typing.pause(jid);
        else await typing.start(jid, presence, durationMs);
      } catch (error) {
        throw new AppError('ENGINE_FAILED', `Could not send "${presence}" to ${chatId}; the connection may be dropping, try again`, undefined, { cause: error });
      }
    },

    async subscribe(chatId) {
      const jid = toWhatsAppJid(chatId);
      const socket = openSocket();
      if (jid.endsWith('@lid')) subscribedLids.add(jid);
      try {
        await socket.presenceSubscribe(jid);
      } catch (error) {
        throw new AppError('ENGINE_FAILED', `Could not subscribe to the presence of ${chatId}; the connection may be dropping, try again`, undefined, { cause: error });
      }
    },

    async requestPairingCode(phoneNumber) {
      const digits = phoneNumber.replace(/[\s+()-]/g, '');
      if (!/^\d{7,15}$/.test(digits)) {
        throw new AppError('VALIDATION_FAILED', `phoneNumber must be the account's number in international format, digits only (e.g. 12132132130), got "${phoneNumber}"`);
      }
      if (auth !== null && linked(auth.state.creds)) {
        throw new AppError('SESSION_NOT_WORKING', `Session "${context.session}" is already linked; log it out before pairing again`);
      }
      if (status !== 'SCAN_QR_CODE') {
        if (!wanted) {
          throw new AppError('SESSION_NOT_WORKING', `Session "${context.session}" is not started; start it, then request a pairing code`);
        }
        // The socket must have reached the pairing step (first QR) before WhatsApp accepts a code request.
        await new Promise<void>((resolve, reject) => {
          const timer = clock.setTimeout(() => {
            qrWaiters = qrWaiters.filter((wake) => wake !== onReady);
            reject(new AppError('SESSION_NOT_WORKING', `Session "${context.session}" did not reach the pairing step in time (status ${status}); try again`));
          }, options.pairingWaitMs ?? 20_000);
          const onReady = (): void => {
            clock.clearTimeout(timer);
            resolve();
          };
          qrWaiters.push(onReady);
        });
      }
      const socket = connection?.socket;
      if (socket === undefined) {
        throw new AppError('SESSION_NOT_WORKING', `Session "${context.session}" lost its connection while pairing; try again`);
      }
      try {
        return await socket.requestPairingCode(digits);
      } catch (error) {
        throw new AppError('ENGINE_FAILED', 'WhatsApp did not issue a pairing code; check the phone number and try again', undefined, { cause: error });
      }
    },
  };
}

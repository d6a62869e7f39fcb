import type { Logger } from 'pino';
import type { Engine, EngineContext, EngineFactory } from '../engine.js';
import { DEFAULT_BACKOFF } from './connection.js';
import type { BackoffPolicy } from '../../backoff.js';
import { createNowebEngine } from './lifecycle.js';
import { WHATSAPP_ROOT_PUBLIC_KEY, sandboxAdminUrl, scanSandboxQr, trustBaileysRoot } from '../../sandbox/client.js';
import type { NowebEngineOptions } from './lifecycle.js';

/** Where the engine's sockets go: the real WhatsApp, or a sandbox that signs with its own root key. */
export type NowebNetwork =
  | { readonly kind: 'whatsapp' }
  | {
      readonly kind: 'sandbox';
      readonly url: string;
      readonly rootPublicKey: Uint8Array;
      /**
       * Scan every QR this engine shows through the sandbox's admin API, as a phone would, so a new
       * session pairs by itself. Only the QR carries the device's adv secret, so the sandbox cannot
       * pair a device on its own: the side that sees the QR has to hand it over. A session's
       * `config.sandbox.autoPair` overrides it, and a session asked for a pairing code stops it.
       */
      readonly autoPair?: boolean;
      /**
       * How auto-pairing scans a QR. Default: `POST /api/sandbox/scan` on the sandbox's own port
       * (derived from `url`). An embedded sandbox whose port serves no admin API passes its
       * `network.scan` here.
       */
      readonly scan?: (qr: string) => Promise<{ readonly phone: string }>;
    };

export interface NowebFactoryOptions {
  readonly network: NowebNetwork;
  readonly logger: Logger;
  /** Reconnect backoff; fields left out keep their defaults (1 s doubling up to 60 s, 20 % jitter). */
  readonly reconnect?: Partial<BackoffPolicy>;
  /** Typing refresh and reconnect delays: the server's clock (tests: their own). */
  readonly clock?: NowebEngineOptions['clock'];
  readonly random?: () => number;
  /** Test only: see `NowebEngineOptions.testQrTimeoutMs`; leave unset in the server. */
  readonly testQrTimeoutMs?: number;
}

/**
 * Process-wide (see `trustBaileysRoot`): a factory for the other network in the same process would
 * make every socket trust the wrong root.
 */
function trustRoot(network: NowebNetwork): void {
  trustBaileysRoot(network.kind === 'sandbox' ? network.rootPublicKey : WHATSAPP_ROOT_PUBLIC_KEY);
}

/** The `NOWEB` engine: WhatsApp through Baileys. */
export function createNowebEngineFactory(options: NowebFactoryOptions): EngineFactory {
  trustRoot(options.network);
  const engineOptions: NowebEngineOptions = {
    backoff: { ...DEFAULT_BACKOFF, ...options.reconnect },
    ...(options.network.kind === 'sandbox' ? { waWebSocketUrl: options.network.url } : {}),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(options.testQrTimeoutMs === undefined ? {} : { testQrTimeoutMs: options.testQrTimeoutMs }),
  };
  options.logger.child({ engine: 'NOWEB' }).info(
    { network: options.network.kind, ...(options.network.kind === 'sandbox' ? { url: options.network.url } : {}) },
    'NOWEB engine ready',
  );
  const network = options.network;
  return {
    name: 'NOWEB',
    create: (context) => {
      const logger = context.logger.child({ engine: 'NOWEB' });
      const autoPair = network.kind === 'sandbox' && (context.config.sandbox?.autoPair ?? network.autoPair === true);
      if (network.kind !== 'sandbox' || !autoPair) return createNowebEngine({ ...context, logger }, engineOptions);
      const adminUrl = sandboxAdminUrl(network.url);
      const scan = network.scan ?? ((qr: string) => scanSandboxQr(adminUrl, qr));
      return autoPairing({ ...context, logger }, scan, (autoContext) => createNowebEngine(autoContext, engineOptions));
    },
  };
}

/**
 * An engine whose every new QR goes to the sandbox's scanner, until someone asks it for a pairing
 * code: from then on a person is going to type that code on the phone, and a QR scanned meanwhile
 * would link the session to another number under their feet. `start` scans again (a code does
 * not outlive its connection).
 */
export function autoPairing(context: EngineContext, scan: (qr: string) => Promise<{ phone: string }>, create: (context: EngineContext) => Engine): Engine {
  const { logger } = context;
  let byCode = false;
  const engine = create({
    ...context,
    emit: (event) => {
      context.emit(event);
      if (event.type !== 'qr' || byCode) return;
      // One attempt per QR: Baileys rotates the QR within seconds, and the next one is scanned again,
      // so a failed scan is retried by the next rotation rather than by a loop of our own.
      scan(event.value).then(
        (account) => logger.info({ phone: account.phone }, 'sandbox auto-pairing: QR scanned'),
        (error: unknown) => logger.warn({ err: error }, 'sandbox auto-pairing: scan failed; the next QR is tried'),
      );
    },
  });
  // Delegated one by one: an engine may be a class instance, whose methods a spread would not copy.
  return {
    stop: () => engine.stop(),
    logout: () => engine.logout(),
    setPresence: (presence) => engine.setPresence(presence),
    setChatPresence: (chatId, presence, options) => engine.setChatPresence(chatId, presence, options),
    subscribe: (chatId) => engine.subscribe(chatId),
    async start() {
      byCode = false;
      await engine.start();
    },
    async requestPairingCode(phoneNumber) {
      // Before the request, which may wait for the first QR: that QR must not be scanned either.
      byCode = true;
      try {
        const code = await engine.requestPairingCode(phoneNumber);
        logger.info('sandbox auto-pairing stopped for this session: it waits for its pairing code');
        return code;
      } catch (error) {
        byCode = false;
        throw error;
      }
    },
  } satisfies Engine;
}

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { sandboxAdminRoutes } from './admin.js';
import { acceptConnection } from './connection.js';
import { SandboxNetwork } from './network.js';
import { createWorldSaver, readWorld, WORLD_FILE } from './persist.js';
import type { WorldSaver } from './persist.js';
import { AppError } from '../errors.js';
import { errorBody } from '../http/errors.js';

export { sandboxAdminRoutes } from './admin.js';
export { SandboxNetwork, SandboxError, CONTACT_PRESENCES } from './network.js';
export type { AccountInfo, ContactPresence, SandboxStats } from './network.js';
export type { ReceivedStanza, LastSeenPrivacy } from './state.js';
export { SANDBOX_ROOT_PUBLIC_KEY } from './trust.js';
export { trustSandboxRoot, sandboxAdminUrl, scanSandboxQr } from './client.js';

export interface SandboxOptions {
  /** Default 127.0.0.1: the sandbox is a local tool and listens on loopback only unless told. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  /**
   * Default true. A pairing QR carries the device's adv secret, which the pair-success HMAC needs,
   * so no server can pair a Baileys device without seeing its QR. Auto-pairing is therefore done
   * by the client side: when it is on, a client that shows a QR passes it straight to
   * `network.scan({ qr })` (embedded) or `scanSandboxQr(adminUrl, qr)` (remote), and gets a new
   * account with a fresh number. The flag is published in `GET /api/sandbox/info`.
   */
  readonly autoPair?: boolean;
  /** Default 25000: a composing state not refreshed within this time reaches receivers as paused. */
  readonly chatStateTtlMs?: number;
  /** Default 1 MiB: a larger frame closes the connection that sent it. */
  readonly maxFrameBytes?: number;
  /** Default 20000: a handshake (or pairing confirmation) not finished in this time is closed. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Default true: serve the admin API (`/api/sandbox/…`) on this port, without an API key (the
   * standalone `npm run sandbox`, a local tool on loopback). A server that embeds the sandbox passes
   * false and serves the admin routes itself, behind its API key: the sandbox's own port then
   * carries only the WebSocket, and auto-pairing scans in process (`network.scan`).
   */
  readonly adminApi?: boolean;
  /**
   * Default none (memory only). A directory to keep the sandbox's world in (`sandbox-world.json`):
   * accounts, devices, contacts, groups, privacy, presence and last seen. Started again from the
   * same directory, the sandbox is the network it was, and devices log in with their credentials.
   * Admin changes are on disk before they are answered; presence, last seen, logins and pre-key
   * uploads are saved within `saveDelayMs`, many changes to one write.
   */
  readonly dataDir?: string;
  /** Default 1000: how long a presence or login change may wait to be saved with later ones. */
  readonly saveDelayMs?: number;
  readonly logger?: Logger;
}

export interface Sandbox {
  /** `ws://<host>:<port>/ws`: pass it to Baileys as `waWebSocketUrl`. */
  readonly url: string;
  /** `http://<host>:<port>`: the admin API lives under `/api/sandbox`. */
  readonly adminUrl: string;
  readonly network: SandboxNetwork;
  close(): Promise<void>;
}

export const SANDBOX_WS_PATH = '/ws';

/** Starts a sandbox WhatsApp network: the WebSocket endpoint and the admin API on one port. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const host = options.host ?? '127.0.0.1';
  const file = options.dataDir === undefined ? null : join(options.dataDir, WORLD_FILE);
  const world = file === null ? null : readWorld(file);
  let saver: WorldSaver | null = null;
  const network = new SandboxNetwork({
    ...(world === null ? {} : { world }),
    onChange: (urgent) => {
      if (urgent) saver?.now();
      else saver?.soon();
    },
    logger: logger.child({ area: 'sandbox' }),
    autoPair: options.autoPair ?? true,
    chatStateTtlMs: options.chatStateTtlMs ?? 25_000,
    ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
  });
  if (file !== null) {
    saver = createWorldSaver({ file, snapshot: () => network.snapshot(), delayMs: options.saveDelayMs ?? 1000, logger });
    // Written at once: a directory that cannot be written is an error at start, not at the first change.
    saver.now();
    logger.info({ file, accounts: world?.accounts.length ?? 0, groups: world?.groups.length ?? 0 }, world === null ? 'sandbox world: a new one, kept in this file' : 'sandbox world loaded');
  }
  // Request logs are info-level noise for an admin API; warnings and errors still show.
  const app = Fastify({
    loggerInstance: logger.child({ area: 'sandbox-admin' }, { level: 'warn' }),
    // A misspelt field is refused with a 400, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  const adminApi = options.adminApi ?? true;
  if (adminApi) await app.register(sandboxAdminRoutes, { network });
  // The main API's body; set here, not in the admin plugin, which the presence server registers in its own scope.
  const elsewhere = adminApi ? 'see GET /api/sandbox/info for the admin API' : `this sandbox serves only its WebSocket at ${SANDBOX_WS_PATH}; its admin API is on the server that embeds it, under /api/sandbox, with the API key`;
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(new AppError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}; ${elsewhere}`))));
  // ws enforces the frame limit too (plus room for the length prefix and GCM tag).
  const wss = new WebSocketServer({ noServer: true, maxPayload: network.host.maxFrameBytes + 64 });
  wss.on('connection', (ws) => acceptConnection(ws, network.host));
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== SANDBOX_WS_PATH) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  await app.listen({ host, port: options.port ?? 0 });
  const { port } = app.server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `ws://${shown}:${port}${SANDBOX_WS_PATH}`,
    adminUrl: `http://${shown}:${port}`,
    network,
    async close() {
      network.shutdown();
      // After the shutdown, which records the last seen of every account whose connections it ended.
      saver?.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await app.close();
    },
  };
}

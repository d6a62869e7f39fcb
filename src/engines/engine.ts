import type { Logger } from 'pino';
import type { ChatPresenceStatus, GlobalPresence, SessionStatus } from '../presence/status.js';
import type { ParticipantPresence } from '../presence/types.js';
import type { Me, SessionConfig } from '../presence/sessions.js';
import type { AuthStore } from '../storage/auth.js';

/**
 * What an engine tells the session layer. Engines never touch the presence store, the event bus or
 * HTTP: they report, the session layer decides.
 */
export type EngineEvent =
  /**
   * `reason`: why, for a person, when nobody asked for the change. `unlinked`: the device is no
   * longer linked to the account and its credentials are gone (logged out here or from the phone).
   */
  | { readonly type: 'status'; readonly status: SessionStatus; readonly reason?: string; readonly unlinked?: true }
  /** A new QR value; emitted again each time the engine rotates it. */
  | { readonly type: 'qr'; readonly value: string }
  /** The account is known (after pairing or login). */
  | { readonly type: 'me'; readonly me: Me }
  /** Presence of one chat changed; `chatId` is normalised (`@c.us`, `@g.us`, `@lid`). */
  | { readonly type: 'presence'; readonly chatId: string; readonly presences: readonly ParticipantPresence[] };

export interface EngineContext {
  readonly session: string;
  readonly config: SessionConfig;
  /** Credentials and signal keys of this session only. */
  readonly auth: AuthStore;
  readonly logger: Logger;
  readonly emit: (event: EngineEvent) => void;
}

/**
 * One running WhatsApp connection of one session. Every method resolves when the command has been
 * handed to the network, and rejects with an `AppError` a person can act on.
 */
export interface Engine {
  /** Connect (or resume from stored credentials). Resolves once connecting has begun. */
  start(): Promise<void>;
  /** Close the connection; credentials are kept. Idempotent. */
  stop(): Promise<void>;
  /** Unlink the device and wipe its credentials. */
  logout(): Promise<void>;
  /** Global presence: `online` → available, `offline` → unavailable. */
  setPresence(presence: GlobalPresence): Promise<void>;
  /**
   * Chat state in one chat. `typing`/`recording` are kept alive until `paused` or `durationMs`
   * (when given) ends; stop/logout end them with a `paused`.
   */
  setChatPresence(chatId: string, presence: ChatPresenceStatus, options?: { readonly durationMs?: number }): Promise<void>;
  /**
   * Ask WhatsApp for the chat's presence updates while this connection lives. No unsubscribe
   * counterpart: none is known for WhatsApp's multi-device protocol (Baileys rc14 and whatsmeow
   * have none); a subscription ends with its connection.
   */
  subscribe(chatId: string): Promise<void>;
  /** Link by phone number instead of QR; resolves with the code to type on the phone. */
  requestPairingCode(phoneNumber: string): Promise<string>;
}

/** Builds engines; one per engine kind (`src/engines/<name>`). */
export interface EngineFactory {
  readonly name: string;
  create(context: EngineContext): Engine;
}

import type { Logger } from 'pino';
import { parseJid } from './jid.js';
import type { LastSeenPrivacy } from './state.js';
import type { WorldSnapshot } from './persist.js';
import type { Clock } from '../clock.js';

/**
 * An admin request that cannot be done; `kind` picks the HTTP status in the admin routes.
 * `rejected`: well-formed, but the phone refuses it (a wrong pairing code).
 */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(readonly kind: 'invalid' | 'not_found' | 'conflict' | 'rejected', message: string) {
    super(message);
  }
}

/** What a contact can do through the admin API. */
export type ContactPresence = 'online' | 'offline' | 'typing' | 'recording' | 'paused';
export const CONTACT_PRESENCES: readonly ContactPresence[] = ['online', 'offline', 'typing', 'recording', 'paused'];

export interface AccountInfo {
  readonly phone: string;
  readonly id: string;
  readonly lid: string;
  readonly kind: 'user' | 'contact';
  readonly name: string;
  readonly presence: 'online' | 'offline';
  /** Unix seconds, or null if never seen online. */
  readonly lastSeen: number | null;
  readonly lastSeenPrivacy: LastSeenPrivacy;
  /** Banned through the admin API: every login and live stream is refused with 403. */
  readonly banned: boolean;
  readonly devices: readonly { readonly id: number; readonly jid: string; readonly preKeys: number }[];
  readonly connections: readonly { readonly id: number; readonly device: number; readonly available: boolean; readonly subscriptions: readonly string[] }[];
}

/**
 * Counters since the network started, for benchmarks and tests: a login or a close more than the
 * clients asked for is a reconnect, which wall-clock figures alone do not show.
 */
export interface SandboxStats {
  /** Connections that logged in as a known (or adopted) device. */
  readonly logins: number;
  /** Logged-in connections that ended, for whatever reason. */
  readonly closes: number;
  /** Devices paired by a scanned QR. */
  readonly pairings: number;
  /** Connections the sandbox closed itself: protocol problems, handshake or pairing timeouts, refused logins. */
  readonly failures: number;
}

export interface NetworkOptions {
  readonly logger: Logger;
  /** Composing / recording not refreshed within this time reaches receivers as paused. */
  readonly chatStateTtlMs: number;
  /** Reported to clients (GET /api/sandbox/info): whether they should have their QR scanned automatically. */
  readonly autoPair: boolean;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: Pick<Clock, 'now'>;
  /** A saved world to start from (persist.ts); default: an empty network. */
  readonly world?: WorldSnapshot;
  /**
   * Called after every change of what the world keeps: `urgent` for admin changes, which must be
   * saved before they are answered; otherwise (presence, logins, pre-keys) a save may be coalesced.
   */
  readonly onChange?: (urgent: boolean) => void;
}

const PHONE = /^\d{7,15}$/;

/** A phone argument of the admin API: digits, or a "<phone>@c.us" chat id; `what` names it in the error. */
export function phoneOf(chatIdOrPhone: string, what: string): string {
  if (PHONE.test(chatIdOrPhone)) return chatIdOrPhone;
  const parsed = parseJid(chatIdOrPhone);
  if (parsed?.kind === 'pn') return parsed.user;
  throw new SandboxError('invalid', `${what} must be a phone number or "<phone>@c.us", got "${chatIdOrPhone}"`);
}

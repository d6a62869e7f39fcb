import { DisconnectReason } from 'baileys';
import type { BackoffPolicy } from '../../backoff.js';
import type { SessionStatus } from '../../presence/status.js';

/**
 * Reconnect backoff: 1 s doubling up to 60 s, minus up to 20 % at random so that many sessions
 * dropped by the same outage do not reconnect in lockstep (`backoffDelay` in src/backoff.ts).
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.2, jitterMode: 'down' };

/** What to do after Baileys closed the connection. */
export type CloseAction =
  /** Connect again at once with the same credentials (515 after pairing). */
  | { readonly kind: 'restart' }
  /** A transient drop: connect again after a backoff delay. */
  | { readonly kind: 'reconnect' }
  /** Give up; `wipeAuth` when WhatsApp no longer accepts these credentials. */
  | { readonly kind: 'stop'; readonly status: SessionStatus; readonly reason: string; readonly wipeAuth: boolean };

export interface CloseInfo {
  /** Baileys' `lastDisconnect.error.output.statusCode`, when there is one. */
  readonly statusCode: number | undefined;
  readonly message: string | undefined;
  /** Whether the device was paired when the connection closed. */
  readonly registered: boolean;
}

const STOP_REASONS: Readonly<Record<number, { status: SessionStatus; reason: string; wipeAuth: boolean }>> = {
  // Not a failure: the account holder unlinked the device (or WhatsApp expired it). The session ends
  // as a logout through the API does, credentials wiped, and says so.
  [DisconnectReason.loggedOut]: {
    status: 'STOPPED',
    reason: 'WhatsApp logged this device out: it was removed from Linked devices on the phone, or its credentials expired. Its credentials were deleted; start the session and scan a new QR code to link it again.',
    wipeAuth: true,
  },
  // FAILED, not a reconnect: reconnecting would replace the other connection in turn, and the two
  // would take over from each other in a loop.
  [DisconnectReason.connectionReplaced]: {
    status: 'FAILED',
    reason: 'Another connection logged in with the same credentials and replaced this one (the session running on a second server, or a copy of its credentials in use elsewhere). Stop the other one, then start this session again.',
    wipeAuth: false,
  },
  [DisconnectReason.forbidden]: {
    status: 'FAILED',
    reason: 'WhatsApp refused this account (403: banned or restricted). Open WhatsApp on the phone to see why and to request a review; start the session again once the ban is lifted.',
    wipeAuth: false,
  },
  [DisconnectReason.badSession]: {
    status: 'FAILED',
    reason: 'The stored credentials are damaged (bad session). Log the session out and scan a new QR code.',
    wipeAuth: false,
  },
  [DisconnectReason.multideviceMismatch]: {
    status: 'FAILED',
    reason: 'WhatsApp rejected this linked device (multi-device mismatch). Update WhatsApp on the phone, log out and scan a new QR code.',
    wipeAuth: false,
  },
};

/** Decides what a closed connection means. Pure, so the table is tested without a network. */
export function classifyClose(info: CloseInfo): CloseAction {
  const { statusCode } = info;
  if (statusCode === DisconnectReason.restartRequired) return { kind: 'restart' };
  if (statusCode !== undefined) {
    const stop = STOP_REASONS[statusCode];
    if (stop !== undefined) return { kind: 'stop', ...stop };
  }
  // Baileys ends with 408 "QR refs attempts ended" when nobody scanned any of the QR codes (~160 s);
  // a pairing code requested on that connection dies with it.
  if (!info.registered && statusCode === DisconnectReason.timedOut && info.message?.includes('QR refs') === true) {
    return {
      kind: 'stop',
      status: 'FAILED',
      reason: 'Nobody scanned the QR code or entered the pairing code in time. Start the session again, then scan the new QR code or request a new pairing code and enter it within a minute or two.',
      wipeAuth: false,
    };
  }
  return { kind: 'reconnect' };
}

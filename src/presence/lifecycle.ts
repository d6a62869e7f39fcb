import type { SessionStatus } from './status.js';

/**
 * Which status may follow which. `STOPPED` is left only by a start (→ `STARTING`); from any other
 * status everything may follow, since the engine can reconnect (`STARTING`), need a new QR after a
 * remote logout (`SCAN_QR_CODE`), fail, or be stopped at any time. Reporting the current status again
 * is not a transition (nothing is published).
 */
const NEXT: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  STOPPED: ['STARTING'],
  STARTING: ['SCAN_QR_CODE', 'WORKING', 'FAILED', 'STOPPED'],
  SCAN_QR_CODE: ['STARTING', 'WORKING', 'FAILED', 'STOPPED'],
  WORKING: ['STARTING', 'SCAN_QR_CODE', 'FAILED', 'STOPPED'],
  FAILED: ['STARTING', 'SCAN_QR_CODE', 'WORKING', 'STOPPED'],
};

export function isTransition(from: SessionStatus, to: SessionStatus): boolean {
  return NEXT[from].includes(to);
}

/** Statuses in which an engine is (or should be) running. */
export function isRunningStatus(status: SessionStatus): boolean {
  return status !== 'STOPPED';
}

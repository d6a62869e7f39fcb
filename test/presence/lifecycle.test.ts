import { describe, expect, it } from 'vitest';
import { isRunningStatus, isTransition } from '../../src/presence/lifecycle.js';
import { SESSION_STATUSES } from '../../src/presence/status.js';
import type { SessionStatus } from '../../src/presence/status.js';

describe('session status transitions', () => {
  it.each<[SessionStatus, SessionStatus, boolean]>([
    ['STOPPED', 'STARTING', true],
    ['STOPPED', 'WORKING', false],
    ['STOPPED', 'SCAN_QR_CODE', false],
    ['STOPPED', 'FAILED', false],
    ['STARTING', 'SCAN_QR_CODE', true],
    ['STARTING', 'WORKING', true],
    ['SCAN_QR_CODE', 'WORKING', true],
    ['WORKING', 'STARTING', true],
    ['WORKING', 'SCAN_QR_CODE', true],
    ['WORKING', 'STOPPED', true],
    ['FAILED', 'STARTING', true],
  ])('%s → %s is %s', (from, to, allowed) => {
    expect(isTransition(from, to)).toBe(allowed);
  });

  it('reporting the same status again is never a transition', () => {
    for (const status of SESSION_STATUSES) expect(isTransition(status, status)).toBe(false);
  });

  it('only STOPPED is not running', () => {
    expect(SESSION_STATUSES.filter((status) => !isRunningStatus(status))).toEqual(['STOPPED']);
  });
});

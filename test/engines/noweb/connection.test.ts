import { DisconnectReason } from 'baileys';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/backoff.js';
import type { BackoffPolicy } from '../../../src/backoff.js';
import { classifyClose, DEFAULT_BACKOFF } from '../../../src/engines/noweb/connection.js';

describe('the reconnect backoff (backoffDelay, jitter down)', () => {
  const policy: BackoffPolicy = { ...DEFAULT_BACKOFF, maxMs: 30_000, jitter: 0.5 };
  it.each([
    [1, 0, 1_000],
    [2, 0, 2_000],
    [3, 0, 4_000],
    [5, 0, 16_000],
    [6, 0, 30_000],
    [50, 0, 30_000],
    [1, 0.999999, 500],
    [6, 0.5, 22_500],
  ])('attempt %i with random %f → %i ms', (attempt, r, expected) => {
    expect(backoffDelay(policy, attempt, () => r)).toBe(expected);
  });
});

describe('classifyClose', () => {
  const registered = { registered: true, message: 'x' };
  it('restarts at once after 515 (pairing done)', () => {
    expect(classifyClose({ ...registered, statusCode: DisconnectReason.restartRequired })).toEqual({ kind: 'restart' });
  });
  it.each([
    [DisconnectReason.connectionClosed],
    [DisconnectReason.connectionLost],
    [DisconnectReason.unavailableService],
    [undefined],
  ])('reconnects with backoff after %s', (statusCode) => {
    expect(classifyClose({ ...registered, statusCode })).toEqual({ kind: 'reconnect' });
  });
  it('stops with STOPPED and wipes the credentials after 401 (removed from the phone)', () => {
    const action = classifyClose({ ...registered, statusCode: DisconnectReason.loggedOut });
    expect(action).toMatchObject({ kind: 'stop', status: 'STOPPED', wipeAuth: true });
    if (action.kind === 'stop') expect(action.reason).toMatch(/removed from Linked devices on the phone.*scan a new QR code/);
  });
  it.each([
    [DisconnectReason.connectionReplaced, false, /replaced/],
    [DisconnectReason.forbidden, false, /banned/],
    [DisconnectReason.badSession, false, /damaged/],
    [DisconnectReason.multideviceMismatch, false, /multi-device/],
  ])('stops with FAILED after %i', (statusCode, wipeAuth, reason) => {
    const action = classifyClose({ ...registered, statusCode });
    expect(action.kind).toBe('stop');
    if (action.kind !== 'stop') return;
    expect(action.status).toBe('FAILED');
    expect(action.wipeAuth).toBe(wipeAuth);
    expect(action.reason).toMatch(reason);
  });
  it('stops when nobody scanned any QR code', () => {
    const action = classifyClose({ registered: false, statusCode: DisconnectReason.timedOut, message: 'QR refs attempts ended' });
    expect(action).toMatchObject({ kind: 'stop', status: 'FAILED' });
  });
  it('reconnects after a 408 of a paired device', () => {
    expect(classifyClose({ registered: true, statusCode: DisconnectReason.timedOut, message: 'Connection was lost' })).toEqual({ kind: 'reconnect' });
  });
});

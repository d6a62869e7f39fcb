import { describe, expect, it } from 'vitest';
import { STATUS_POINTS } from '../../src/sessions/status.js';
import { sessionHarness } from '../support/harness.js';

describe("session.status: WAHA's payload", () => {
  it('names the session and carries the last statuses with their times, oldest first, the new one last', async () => {
    const { manager, engines, publisher } = await sessionHarness();
    const before = Date.now();
    await manager.create({ name: 's' });
    engines.latest('s').working();
    await manager.settled('s');
    await manager.stop('s');
    await manager.start('s');
    await manager.settled('s');
    const payloads = publisher.envelopes('session.status', 's').map((envelope) => (envelope.event === 'session.status' ? envelope.payload : null));
    expect(payloads.map((p) => p?.status)).toEqual(['STARTING', 'WORKING', 'STOPPED', 'STARTING']);
    expect(STATUS_POINTS).toBe(3);
    // The first ones grow up to three points; then the oldest is dropped.
    expect(payloads.map((p) => p?.statuses.map((point) => point.status))).toEqual([
      ['STARTING'],
      ['STARTING', 'WORKING'],
      ['STARTING', 'WORKING', 'STOPPED'],
      ['WORKING', 'STOPPED', 'STARTING'],
    ]);
    for (const payload of payloads) {
      expect(payload?.name).toBe('s');
      expect(payload?.statuses.at(-1)?.status).toBe(payload?.status);
      const times = payload?.statuses.map((point) => point.timestamp) ?? [];
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(times.every((t) => t >= before && t <= Date.now())).toBe(true);
    }
  });
});

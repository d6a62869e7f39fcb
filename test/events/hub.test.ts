import { describe, expect, it } from 'vitest';
import type { HubClient } from '../../src/events/hub.js';
import { CLOSE_TOO_SLOW, createHub } from '../../src/events/hub.js';

/** Test double: a socket that records what it was sent; `bufferedAmount` is set by the test. */
class ClientDouble implements HubClient {
  sent: string[] = [];
  closed: { code: number; reason: string } | null = null;
  bufferedAmount = 0;
  send(data: string): void {
    if (this.closed !== null) throw new Error('send on a closed client');
    this.sent.push(data);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
}

describe('hub', () => {
  it('sends to clients whose session and event filters match', () => {
    const hub = createHub({ maxBufferedBytes: 1024 });
    const all = new ClientDouble();
    const aliceAll = new ClientDouble();
    const alicePresence = new ClientDouble();
    const bobStatus = new ClientDouble();
    hub.subscribe({ session: '*', events: ['*'] }, all);
    hub.subscribe({ session: 'alice', events: ['*'] }, aliceAll);
    hub.subscribe({ session: 'alice', events: ['presence.update'] }, alicePresence);
    hub.subscribe({ session: 'bob', events: ['session.status'] }, bobStatus);

    hub.publish('alice', 'presence.update', 'a1');
    hub.publish('alice', 'session.status', 'a2');
    hub.publish('bob', 'presence.update', 'b1');
    hub.publish('bob', 'session.status', 'b2');

    expect(all.sent).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(aliceAll.sent).toEqual(['a1', 'a2']);
    expect(alicePresence.sent).toEqual(['a1']);
    expect(bobStatus.sent).toEqual(['b2']);
  });

  it('stops sending after unsubscribe', () => {
    const hub = createHub({ maxBufferedBytes: 1024 });
    const client = new ClientDouble();
    const unsubscribe = hub.subscribe({ session: '*', events: ['*'] }, client);
    hub.publish('s', 'presence.update', 'one');
    unsubscribe();
    unsubscribe();
    hub.publish('s', 'presence.update', 'two');
    expect(client.sent).toEqual(['one']);
    expect(hub.size()).toBe(0);
  });

  it('disconnects a client that does not read instead of buffering for it', () => {
    const hub = createHub({ maxBufferedBytes: 100 });
    const slow = new ClientDouble();
    const fast = new ClientDouble();
    hub.subscribe({ session: '*', events: ['*'] }, slow);
    hub.subscribe({ session: '*', events: ['*'] }, fast);
    slow.bufferedAmount = 95;
    hub.publish('s', 'presence.update', 'x'.repeat(10));
    expect(slow.closed?.code).toBe(CLOSE_TOO_SLOW);
    expect(slow.closed?.reason).toMatch(/too slow/);
    expect(slow.sent).toEqual([]);
    expect(fast.sent).toHaveLength(1);
    expect(hub.size()).toBe(1);
    hub.publish('s', 'presence.update', 'y');
    expect(fast.sent).toHaveLength(2);
  });

  it('drops a client whose send throws, without failing the publish for the others', () => {
    const hub = createHub({ maxBufferedBytes: 1024 });
    const broken = new ClientDouble();
    broken.send = () => {
      throw new Error('WebSocket is not open');
    };
    const fine = new ClientDouble();
    hub.subscribe({ session: '*', events: ['*'] }, broken);
    hub.subscribe({ session: '*', events: ['*'] }, fine);
    expect(() => hub.publish('s', 'presence.update', 'x')).not.toThrow();
    expect(fine.sent).toEqual(['x']);
    expect(hub.size()).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { Peer } from '../../src/sandbox/state.js';
import { createSubscriptions } from '../../src/sandbox/subscriptions.js';

function peer(id: number): Peer {
  const fail = (): never => {
    throw new Error('the index must not send anything');
  };
  return {
    id,
    account: { phone: `49100000000${id}`, lid: `9${id}`, kind: 'user', name: '', lastSeenPrivacy: 'everyone', identity: { public: Buffer.alloc(32), private: Buffer.alloc(32) }, devices: new Map(), nextDeviceId: 1, online: false, lastSeen: null, received: [], createdAt: 0, banned: false },
    device: { id: 1, noiseKey: Buffer.alloc(32), identityKey: null, preKeyCount: 0, pairedAt: 0 },
    available: true,
    subscriptions: new Map(),
    connectedAt: 0,
    send: fail,
    sendEncoded: fail,
    drop: fail,
    end: fail,
  };
}

describe('subscription index', () => {
  it('finds the subscribers of a target and keeps each peer\'s own map (with the JID form) in step', () => {
    const index = createSubscriptions();
    const [a, b, c] = [peer(1), peer(2), peer(3)];
    index.add(a, '111', '111@s.whatsapp.net');
    index.add(b, '111', '9111@lid');
    index.add(b, '222', '222@s.whatsapp.net');
    expect([...index.subscribersOf('111')]).toEqual([a, b]);
    expect([...index.subscribersOf('222')]).toEqual([b]);
    expect([...index.subscribersOf('333')]).toEqual([]);
    expect([...b.subscriptions]).toEqual([['111', '9111@lid'], ['222', '222@s.whatsapp.net']]);
    expect(c.subscriptions.size).toBe(0);

    // Subscribing again by the other form changes the form, not the subscriber count.
    index.add(a, '111', '9111@lid');
    expect([...index.subscribersOf('111')]).toEqual([a, b]);
    expect(a.subscriptions.get('111')).toBe('9111@lid');
  });

  it('forgets one subscription on remove, and all of a peer\'s on removeAll, leaving the others', () => {
    const index = createSubscriptions();
    const [a, b] = [peer(1), peer(2)];
    index.add(a, '111', '111@s.whatsapp.net');
    index.add(a, '222', '222@s.whatsapp.net');
    index.add(b, '111', '111@s.whatsapp.net');

    index.remove(a, '111');
    expect([...index.subscribersOf('111')]).toEqual([b]);
    expect([...a.subscriptions.keys()]).toEqual(['222']);
    index.remove(a, '999'); // never subscribed: nothing happens
    expect([...a.subscriptions.keys()]).toEqual(['222']);

    index.removeAll(b);
    expect([...index.subscribersOf('111')]).toEqual([]);
    expect(b.subscriptions.size).toBe(0);
    expect([...index.subscribersOf('222')]).toEqual([a]);

    // A target emptied and watched again starts from scratch.
    index.add(b, '111', '111@s.whatsapp.net');
    expect([...index.subscribersOf('111')]).toEqual([b]);
  });

  it('lets a subscriber leave while the subscribers of a target are being iterated (a send that fails closes the connection)', () => {
    const index = createSubscriptions();
    const peers = [peer(1), peer(2), peer(3)];
    for (const p of peers) index.add(p, '111', '111@s.whatsapp.net');
    const seen: number[] = [];
    for (const p of index.subscribersOf('111')) {
      seen.push(p.id);
      if (p.id === 1) index.removeAll(p);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect([...index.subscribersOf('111')].map((p) => p.id)).toEqual([2, 3]);
  });
});

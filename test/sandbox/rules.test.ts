import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BinaryNode } from 'baileys';
import { decodeBinaryNode } from 'baileys';
import { createChatStates } from '../../src/sandbox/chatstate.js';
import { generateKeyPair } from '../../src/sandbox/crypto.js';
import { handlePresence, peerClosed, setOnline, subscribe } from '../../src/sandbox/presence.js';
import { createSubscriptions } from '../../src/sandbox/subscriptions.js';
import type { Account, Group, NetworkView, Peer, ReceivedStanza } from '../../src/sandbox/state.js';

// The presence rules on their own, against a test double of the network (no sockets, no Baileys client).

function account(phone: string, kind: Account['kind'] = 'user', lastSeenPrivacy: Account['lastSeenPrivacy'] = 'everyone'): Account {
  return { phone, lid: `9${phone}`, kind, name: phone, lastSeenPrivacy, identity: generateKeyPair(), devices: new Map(), nextDeviceId: 1, online: false, lastSeen: null, banned: false, received: [], createdAt: 0 };
}

interface TestPeer extends Peer {
  readonly inbox: BinaryNode[];
}

function fakeNetwork() {
  let now = 1_700_000_000_000;
  const accounts = new Map<string, Account>();
  const groups = new Map<string, Group>();
  const peers: TestPeer[] = [];
  const pending: Promise<void>[] = [];
  const view: NetworkView = {
    now: () => now,
    account: (phone) => accounts.get(phone),
    accountByLid: (lid) => [...accounts.values()].find((a) => a.lid === lid),
    contacts: () => [...accounts.values()].filter((a) => a.kind === 'contact'),
    group: (id) => groups.get(id),
    groupsOf: (phone) => [...groups.values()].filter((g) => g.participants.includes(phone)),
    peersOf: (phone) => peers.filter((p) => p.account.phone === phone),
    subscriptions: createSubscriptions(),
    record: (contact: Account, entry: ReceivedStanza) => contact.received.push(entry),
    removeDevice: () => {
      throw new Error('the presence rules never remove devices');
    },
  };
  const add = (a: Account) => (accounts.set(a.phone, a), a);
  const connect = (a: Account): TestPeer => {
    const inbox: BinaryNode[] = [];
    const peer: TestPeer = {
      id: peers.length + 1, account: a, device: { id: 1, noiseKey: Buffer.alloc(32), identityKey: null, preKeyCount: 0, pairedAt: 0 },
      available: false, subscriptions: new Map(), connectedAt: now, inbox,
      send: (node) => inbox.push(node),
      sendEncoded: (bytes) => pending.push(decodeBinaryNode(Buffer.from(bytes)).then((node) => void inbox.push(node))),
      drop: () => undefined,
      end: (node) => {
        throw new Error(`the presence rules never end a stream (asked to send ${node.tag})`);
      },
    };
    peers.push(peer);
    return peer;
  };
  const disconnect = (peer: TestPeer) => {
    peers.splice(peers.indexOf(peer), 1);
    peerClosed(view, peer);
  };
  const flush = async () => {
    await Promise.all(pending.splice(0));
  };
  return { view, add, connect, disconnect, flush, groups, tick: (ms: number) => (now += ms) };
}

const presence = (type?: string, extra: Record<string, string> = {}): BinaryNode => ({ tag: 'presence', attrs: { ...(type === undefined ? {} : { type }), ...extra } });

describe('presence rules', () => {
  it('subscribe sends the current presence at once, then only transitions, to available subscribers', async () => {
    const net = fakeNetwork();
    const alice = net.add(account('4910000001'));
    const bob = net.add(account('4910000002'));
    const a = net.connect(alice);
    const b = net.connect(bob);
    handlePresence(net.view, b, presence('available'));
    subscribe(net.view, b, '4910000001@s.whatsapp.net');
    expect(b.inbox.at(-1)?.attrs).toEqual({ from: '4910000001@s.whatsapp.net', type: 'unavailable' }); // never seen: no last

    handlePresence(net.view, a, presence('available', { name: 'Alice' }));
    handlePresence(net.view, a, presence('available'));
    await net.flush();
    expect(alice.name).toBe('Alice');
    expect(b.inbox.filter((n) => n.attrs.from === '4910000001@s.whatsapp.net' && n.attrs.type === undefined)).toHaveLength(1);

    net.tick(5000);
    handlePresence(net.view, a, presence('unavailable'));
    await net.flush();
    expect(b.inbox.at(-1)?.attrs).toEqual({ from: '4910000001@s.whatsapp.net', type: 'unavailable', last: '1700000005' });
  });

  it('keeps an account online while any of its connections is available; the last one closing records last seen', async () => {
    const net = fakeNetwork();
    const alice = net.add(account('4910000001'));
    const first = net.connect(alice);
    const second = net.connect(alice);
    handlePresence(net.view, first, presence('available'));
    handlePresence(net.view, second, presence('available'));
    handlePresence(net.view, first, presence('unavailable'));
    expect(alice.online).toBe(true);
    net.tick(1000);
    net.disconnect(second);
    expect(alice.online).toBe(false);
    expect(alice.lastSeen).toBe(1_700_000_001);
    await net.flush();
  });

  it('sends nothing to an unavailable subscriber, and the current presence when it becomes available', async () => {
    const net = fakeNetwork();
    const alice = net.add(account('4910000001'));
    const bob = net.add(account('4910000002'));
    const a = net.connect(alice);
    const b = net.connect(bob);
    subscribe(net.view, b, '4910000001@s.whatsapp.net');
    handlePresence(net.view, a, presence('available'));
    await net.flush();
    expect(b.inbox).toEqual([]);
    handlePresence(net.view, b, presence('available'));
    expect(b.inbox).toEqual([{ tag: 'presence', attrs: { from: '4910000001@s.whatsapp.net' } }]);
  });

  it('says last="deny" for an account that shares its last seen with nobody, and echoes the LID form', async () => {
    const net = fakeNetwork();
    const dan = net.add(account('4910000003', 'contact', 'nobody'));
    const bob = net.add(account('4910000002'));
    const b = net.connect(bob);
    handlePresence(net.view, b, presence('available'));
    setOnline(net.view, dan, true);
    setOnline(net.view, dan, false);
    subscribe(net.view, b, `${dan.lid}@lid`);
    expect(b.inbox.at(-1)?.attrs).toEqual({ from: `${dan.lid}@lid`, type: 'unavailable', last: 'deny' });
    await net.flush();
  });

  it('stops delivering to a connection that unsubscribed or closed, and keeps delivering to the others', async () => {
    const net = fakeNetwork();
    const dan = net.add(account('4910000003', 'contact'));
    const [b, c, d] = [net.connect(net.add(account('4910000002'))), net.connect(net.add(account('4910000004'))), net.connect(net.add(account('4910000005')))];
    for (const peer of [b, c, d]) {
      handlePresence(net.view, peer, presence('available'));
      subscribe(net.view, peer, '4910000003@s.whatsapp.net');
    }
    handlePresence(net.view, b, presence('unsubscribe', { to: '4910000003@s.whatsapp.net' }));
    net.disconnect(c);
    const before = [b.inbox.length, c.inbox.length];
    setOnline(net.view, dan, true);
    await net.flush();
    expect([b.inbox.length, c.inbox.length]).toEqual(before);
    expect(d.inbox.at(-1)?.attrs).toEqual({ from: '4910000003@s.whatsapp.net' });

    // Subscribing again after an unsubscribe works like the first time.
    subscribe(net.view, b, '4910000003@s.whatsapp.net');
    setOnline(net.view, dan, false);
    await net.flush();
    expect(b.inbox.at(-1)?.attrs).toMatchObject({ from: '4910000003@s.whatsapp.net', type: 'unavailable' });
  });

  it('lets simulated contacts record every presence change of user accounts; a bare <presence/> changes nothing', async () => {
    const net = fakeNetwork();
    const carol = net.add(account('4910000003', 'contact'));
    const alice = net.add(account('4910000001'));
    const a = net.connect(alice);
    handlePresence(net.view, a, presence());
    handlePresence(net.view, a, presence('available'));
    net.disconnect(a);
    expect(carol.received.map((r) => [r.kind, r.state, r.from])).toEqual([
      ['presence', 'available', '4910000001@s.whatsapp.net'],
      ['presence', 'unavailable', '4910000001@s.whatsapp.net'],
    ]);
    await net.flush();
  });
});

describe('chat-state rules', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers to the target, fans out in groups with participant, and expires composing as paused', async () => {
    vi.useFakeTimers();
    const net = fakeNetwork();
    const alice = net.add(account('4910000001'));
    const bob = net.add(account('4910000002'));
    const carol = net.add(account('4910000003', 'contact'));
    net.groups.set('120363000000000001', { id: '120363000000000001', jid: '120363000000000001@g.us', subject: 's', participants: [alice.phone, bob.phone, carol.phone], creation: 0 });
    const a = net.connect(alice);
    const b = net.connect(bob);
    handlePresence(net.view, a, presence('available'));
    handlePresence(net.view, b, presence('available'));
    const states = createChatStates(net.view, 25_000);

    expect(states.send(alice, '4910000002@s.whatsapp.net', 'recording')).toBe(true);
    expect(states.send(alice, '120363000000000001@g.us', 'composing')).toBe(true);
    expect(states.send(alice, '4919999999@s.whatsapp.net', 'composing')).toBe(false);
    await net.flush();
    expect(b.inbox.filter((n) => n.tag === 'chatstate')).toEqual([
      { tag: 'chatstate', attrs: { from: '4910000001@s.whatsapp.net' }, content: [{ tag: 'composing', attrs: { media: 'audio' } }] },
      { tag: 'chatstate', attrs: { from: '120363000000000001@g.us', participant: '4910000001@s.whatsapp.net' }, content: [{ tag: 'composing', attrs: {} }] },
    ]);
    expect(a.inbox.filter((n) => n.tag === 'chatstate')).toEqual([]);
    expect(carol.received.at(-1)).toMatchObject({ kind: 'chatstate', state: 'composing', from: '120363000000000001@g.us', participant: '4910000001@s.whatsapp.net' });

    vi.advanceTimersByTime(24_999);
    await net.flush();
    expect(b.inbox.filter((n) => n.tag === 'chatstate')).toHaveLength(2);
    vi.advanceTimersByTime(1);
    await net.flush();
    const paused = b.inbox.filter((n) => n.tag === 'chatstate').slice(2);
    expect(paused.map((n) => [n.attrs.from, (n.content as BinaryNode[])[0]?.tag]).sort()).toEqual([
      ['120363000000000001@g.us', 'paused'],
      ['4910000001@s.whatsapp.net', 'paused'],
    ]);
    states.clear();
  });

  it('restarts the expiry clock on a refresh, and an explicit paused cancels it', async () => {
    vi.useFakeTimers();
    const net = fakeNetwork();
    const alice = net.add(account('4910000001'));
    const bob = net.add(account('4910000002'));
    const b = net.connect(bob);
    handlePresence(net.view, b, presence('available'));
    const states = createChatStates(net.view, 1000);
    const tags = async () => {
      await net.flush();
      return b.inbox.filter((n) => n.tag === 'chatstate').map((n) => (n.content as BinaryNode[])[0]?.tag);
    };
    states.send(alice, '4910000002@s.whatsapp.net', 'composing');
    vi.advanceTimersByTime(600);
    states.send(alice, '4910000002@s.whatsapp.net', 'composing');
    vi.advanceTimersByTime(999);
    expect(await tags()).toEqual(['composing', 'composing']);
    vi.advanceTimersByTime(1);
    expect(await tags()).toEqual(['composing', 'composing', 'paused']);

    states.send(alice, '4910000002@s.whatsapp.net', 'composing');
    states.send(alice, '4910000002@s.whatsapp.net', 'paused');
    vi.advanceTimersByTime(5000);
    expect(await tags()).toEqual(['composing', 'composing', 'paused', 'composing', 'paused']);
    states.clear();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinaryNode } from 'baileys';
import type { Sandbox } from '../../src/sandbox/index.js';
import { SandboxNetwork, startSandbox } from '../../src/sandbox/index.js';
import type { PresenceRecorder, SandboxClient } from '../support/baileys-client.js';
import { connectClient, recordPresence } from '../support/baileys-client.js';

// Two real Baileys sessions (alice, bob) and simulated contacts exchange every kind of presence.
let sandbox: Sandbox;
let alice: SandboxClient;
let bob: SandboxClient;
let bobSees: PresenceRecorder;
let aliceSees: PresenceRecorder;
const CAROL = '4915550000001';
const DAN = '4915550000002';

beforeAll(async () => {
  sandbox = await startSandbox();
  [alice, bob] = await Promise.all([connectClient(sandbox, { name: 'Alice' }), connectClient(sandbox, { name: 'Bob' })]);
  bobSees = recordPresence(bob);
  aliceSees = recordPresence(alice);
  await sandbox.network.createContact({ phone: CAROL, name: 'Carol' });
  await sandbox.network.createContact({ phone: DAN, name: 'Dan', lastSeenPrivacy: 'nobody' });
  await settled(alice, true);
  await settled(bob, true);
});
afterAll(async () => {
  alice.close();
  bob.close();
  await sandbox.close();
});

/** Frames from a client race in-process admin calls: wait until the sandbox has applied its presence. */
async function settled(client: SandboxClient, available: boolean): Promise<void> {
  await sandbox.network.until((accounts) => SandboxNetwork.connected(accounts, client.phone, available), `${client.phone} is ${available ? '' : 'un'}available`);
}

const from = (jid: string, presence: string) => (seen: { chat: string; participant: string; presence: string }) =>
  seen.chat === jid && seen.participant === jid && seen.presence === presence;

describe('presence between two sessions', () => {
  it('subscribe → current presence, then composing, recording, paused, unavailable with last seen', async () => {
    const current = bobSees.next(from(alice.jid, 'available'));
    await bob.sock.presenceSubscribe(alice.jid);
    await current;

    for (const [sent, seen] of [['composing', 'composing'], ['recording', 'recording'], ['paused', 'available']] as const) {
      const arrival = bobSees.next(from(alice.jid, seen));
      await alice.sock.sendPresenceUpdate(sent, bob.jid);
      await arrival;
    }

    const before = Math.floor(Date.now() / 1000);
    const offline = bobSees.next(from(alice.jid, 'unavailable'));
    await alice.sock.sendPresenceUpdate('unavailable');
    const seen = await offline;
    expect(seen.lastSeen).toBeGreaterThanOrEqual(before);
    expect(seen.lastSeen).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));

    const online = bobSees.next(from(alice.jid, 'available'));
    await alice.sock.sendPresenceUpdate('available');
    await online;
  });

  it('delivers nothing to a subscriber that is unavailable, and the current presence when it comes back', async () => {
    await bob.sock.sendPresenceUpdate('unavailable');
    // Wait until the sandbox has applied it (alice hears of it: she is subscribed to bob below).
    const bobOffline = aliceSees.next(from(bob.jid, 'unavailable'));
    await alice.sock.presenceSubscribe(bob.jid);
    await bobOffline;
    const mark = bobSees.seen.length;
    await alice.sock.sendPresenceUpdate('composing', bob.jid);
    const back = bobSees.next(from(alice.jid, 'available'));
    await bob.sock.sendPresenceUpdate('available');
    await back;
    expect(bobSees.seen.slice(mark).map((s) => s.presence)).toEqual(['available']);
  });
});

describe('presence with simulated contacts', () => {
  it('a contact going online, typing to a session and going offline reaches the subscriber', async () => {
    const carol = `${CAROL}@s.whatsapp.net`;
    const firstOffline = bobSees.next(from(carol, 'unavailable'));
    await bob.sock.presenceSubscribe(carol);
    expect((await firstOffline).lastSeen).toBeUndefined(); // never seen online

    const online = bobSees.next(from(carol, 'available'));
    await sandbox.network.setContactPresence(CAROL, { presence: 'online' });
    await online;
    const typing = bobSees.next(from(carol, 'composing'));
    await sandbox.network.setContactPresence(CAROL, { presence: 'typing', chatId: `${bob.phone}@c.us` });
    await typing;
    const recording = bobSees.next(from(carol, 'recording'));
    await sandbox.network.setContactPresence(CAROL, { presence: 'recording', chatId: `${bob.phone}@c.us` });
    await recording;
    const offline = bobSees.next(from(carol, 'unavailable'));
    await sandbox.network.setContactPresence(CAROL, { presence: 'offline' });
    expect((await offline).lastSeen).toEqual(expect.any(Number));
  });

  it('sends last="deny" for a contact that hides its last seen', async () => {
    const dan = `${DAN}@s.whatsapp.net`;
    await sandbox.network.setContactPresence(DAN, { presence: 'online' });
    await sandbox.network.setContactPresence(DAN, { presence: 'offline' });
    const raw = new Promise<BinaryNode>((resolve) => {
      bob.sock.ws.on('CB:presence', (node: BinaryNode) => {
        if (node.attrs.from === dan) resolve(node);
      });
    });
    const seen = bobSees.next(from(dan, 'unavailable'));
    await bob.sock.presenceSubscribe(dan);
    expect((await raw).attrs).toMatchObject({ type: 'unavailable', last: 'deny' });
    expect((await seen).lastSeen).toBeUndefined();
  });

  it('records what a contact received from a session: presence changes and chat states', async () => {
    await alice.sock.sendPresenceUpdate('composing', `${CAROL}@s.whatsapp.net`);
    await alice.sock.sendPresenceUpdate('recording', `${CAROL}@s.whatsapp.net`);
    await alice.sock.sendPresenceUpdate('paused', `${CAROL}@s.whatsapp.net`);
    await alice.sock.sendPresenceUpdate('unavailable');
    await expect.poll(async () => (await sandbox.network.received(CAROL)).filter((r) => r.from === alice.jid).map((r) => r.state).slice(-4))
      .toEqual(['composing', 'recording', 'paused', 'unavailable']);
    const entries = await sandbox.network.received(CAROL);
    expect(entries.at(-1)).toMatchObject({ kind: 'presence', from: alice.jid });
    expect(entries.at(-1)?.last).toMatch(/^\d+$/);
    expect(entries.at(-2)?.stanza).toContain('<paused');
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.timestamp).toBeGreaterThanOrEqual(entries[i - 1]!.timestamp);
    await alice.sock.sendPresenceUpdate('available');
    await settled(alice, true);
  });
});

describe('groups', () => {
  it('fans chat states out to the other participants with participant', async () => {
    const { id: group } = await sandbox.network.createGroup({ subject: 'Team', participants: [`${alice.phone}@c.us`, `${bob.phone}@c.us`, `${CAROL}@c.us`] });
    expect(group).toMatch(/@g\.us$/);

    const bobHears = bobSees.next((s) => s.chat === group && s.participant === `${CAROL}@s.whatsapp.net` && s.presence === 'composing');
    const aliceHears = aliceSees.next((s) => s.chat === group && s.participant === `${CAROL}@s.whatsapp.net` && s.presence === 'composing');
    await sandbox.network.setContactPresence(CAROL, { presence: 'typing', chatId: group });
    await Promise.all([bobHears, aliceHears]);

    const recording = bobSees.next((s) => s.chat === group && s.participant === alice.jid && s.presence === 'recording');
    await alice.sock.sendPresenceUpdate('recording', group);
    await recording;
    await expect.poll(async () => (await sandbox.network.received(CAROL)).at(-1)).toMatchObject({ kind: 'chatstate', from: group, participant: alice.jid, state: 'recording' });
    expect(aliceSees.seen.some((s) => s.chat === group && s.participant === alice.jid)).toBe(false);
  });
});

describe('queries an engine relies on', () => {
  it('answers group metadata, onWhatsApp and privacy, and echoes the LID form a subscriber used', async () => {
    const { id: group } = await sandbox.network.createGroup({ subject: 'Pair', participants: [`${alice.phone}@c.us`, `${bob.phone}@c.us`] });
    const metadata = await alice.sock.groupMetadata(group);
    expect(metadata).toMatchObject({ id: group, subject: 'Pair' });
    expect(metadata.participants.map((p) => p.id).sort()).toEqual([alice.jid, bob.jid].sort());
    expect(Object.keys(await bob.sock.groupFetchAllParticipating())).toContain(group);

    expect(await alice.sock.onWhatsApp(bob.phone, '4999999999')).toEqual([{ jid: bob.jid, exists: true }]);

    // Keep-alive pings are answered (else Baileys drops the link), and so is any iq the sandbox does not model.
    const ping = (await alice.sock.query({ tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] })) as BinaryNode;
    expect(ping.attrs.type).toBe('result');
    const unknown = (await alice.sock.query({ tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'get', xmlns: 'w:unknown' }, content: [{ tag: 'anything', attrs: {} }] })) as BinaryNode;
    expect(unknown.attrs.type).toBe('result');

    const aliceLid = (await sandbox.network.accounts()).find((a) => a.phone === alice.phone)?.lid ?? '';
    const current = bobSees.next(from(aliceLid, 'available'));
    await bob.sock.presenceSubscribe(aliceLid);
    await current;

    await alice.sock.updateLastSeenPrivacy('none');
    expect((await alice.sock.fetchPrivacySettings(true)).last).toBe('none');
    const hidden = bobSees.next(from(aliceLid, 'unavailable'));
    const raw = new Promise<BinaryNode>((resolve) => {
      bob.sock.ws.on('CB:presence', (node: BinaryNode) => {
        if (node.attrs.from === aliceLid && node.attrs.type === 'unavailable') resolve(node);
      });
    });
    await alice.sock.sendPresenceUpdate('unavailable');
    await hidden;
    expect((await raw).attrs.last).toBe('deny');
    await alice.sock.updateLastSeenPrivacy('all');
    await alice.sock.sendPresenceUpdate('available');
    await settled(alice, true);
  });
});

import { initAuthCreds } from 'baileys';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialise, CREDS_CATEGORY, CREDS_ID } from '../../../src/engines/noweb/auth-state.js';
import { autoPairing, createNowebEngineFactory } from '../../../src/engines/noweb/index.js';
import type { EngineEvent, EngineFactory } from '../../../src/engines/engine.js';
import { isAppError } from '../../../src/errors.js';
import type { ParticipantPresence } from '../../../src/presence/types.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../../src/sandbox/index.js';
import type { ReceivedStanza, Sandbox } from '../../../src/sandbox/index.js';
import { FakeAuthStore } from '../../support/fake-auth-store.js';
import { FakeEngine } from '../../support/fake-engine.js';
import { engineUnderTest } from './harness.js';
import type { EngineUnderTest } from './harness.js';
import { poll } from '../../support/poll.js';

/**
 * The NOWEB engine driven directly (no HTTP, no session layer) against an in-process sandbox:
 * pairing, presence both ways, reconnect, resume, logout.
 */

const CONTACT = '4915550000001';
const HIDDEN = '4915550000002';
const MEMBER = '4915550000003';

let sandbox: Sandbox;
let factory: EngineFactory;

beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false });
  factory = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger: pino({ level: 'silent' }),
    reconnect: { baseMs: 20, maxMs: 100 },
  });
  await sandbox.network.createContact({ phone: CONTACT, name: 'Contact' });
  await sandbox.network.createContact({ phone: HIDDEN, name: 'Hidden', lastSeenPrivacy: 'nobody' });
  await sandbox.network.createContact({ phone: MEMBER, name: 'Member' });
});
afterAll(async () => {
  await sandbox.close();
});

/** Polls a sandbox fact (the admin API has no push channel) until it holds, or fails with what was seen. */
function eventually<T>(read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  return poll(read, holds, { timeoutMs, everyMs: 10 });
}

const lastReceived = (phone: string, kind: ReceivedStanza['kind']) => async (): Promise<ReceivedStanza | undefined> =>
  (await sandbox.network.received(phone)).filter((stanza) => stanza.kind === kind).at(-1);

function presenceEvent(chatId: string, expected: Partial<ParticipantPresence>) {
  return (event: EngineEvent): boolean =>
    event.type === 'presence' && event.chatId === chatId && event.presences.some((p) => Object.entries(expected).every(([k, v]) => p[k as keyof ParticipantPresence] === v));
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isAppError(caught) ? caught.code : caught).toBe(code);
}

describe('NOWEB engine against the sandbox', () => {
  let sut: EngineUnderTest;
  let phone = '';
  let me = '';

  it('pairs by QR: STARTING → SCAN_QR_CODE → WORKING, with me and push name', async () => {
    sut = engineUnderTest(factory, { session: 'engine-test' });
    await sut.engine.start();
    const qr = await sut.waitFor((event) => event.type === 'qr');
    if (qr.type !== 'qr') throw new Error('unreachable');
    expect(qr.value).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#/);
    const paired = await sandbox.network.scan({ qr: qr.value, name: 'Engine Test' });
    phone = paired.phone;
    me = `${phone}@c.us`;
    await sut.waitForStatus('WORKING');
    expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
    const meEvent = sut.events.find((event) => event.type === 'me');
    expect(meEvent).toMatchObject({ type: 'me', me: { id: me, pushName: 'Engine Test' } });
    expect(sut.auth.count(CREDS_CATEGORY)).toBe(1);
    expect(sut.auth.count('pre-key')).toBeGreaterThan(0);
    // markOnline defaults to true: the account is online on the network.
    await eventually(async () => (await sandbox.network.accounts()).find((a) => a.phone === phone)?.presence, (p) => p === 'online');
  });

  it('puts every presence on the wire', async () => {
    const contact = `${CONTACT}@c.us`;
    await sut.engine.setPresence('offline');
    await eventually(lastReceived(CONTACT, 'presence'), (s) => s?.state === 'unavailable' && s.from === `${phone}@s.whatsapp.net`);
    await sut.engine.setPresence('online');
    await eventually(lastReceived(CONTACT, 'presence'), (s) => s?.state === 'available');
    await sut.engine.setChatPresence(contact, 'typing');
    await eventually(lastReceived(CONTACT, 'chatstate'), (s) => s?.state === 'composing' && s.from === `${phone}@s.whatsapp.net`);
    await sut.engine.setChatPresence(contact, 'recording');
    await eventually(lastReceived(CONTACT, 'chatstate'), (s) => s?.state === 'recording');
    await sut.engine.setChatPresence(contact, 'paused');
    await eventually(lastReceived(CONTACT, 'chatstate'), (s) => s?.state === 'paused');
  });

  it('rejects bad input with a code a client can act on', async () => {
    await expectAppError(sut.engine.setChatPresence('not-a-chat', 'typing'), 'INVALID_CHAT_ID');
    await expectAppError(sut.engine.subscribe('+49 170@c.us'), 'INVALID_CHAT_ID');
    await expectAppError(sut.engine.setChatPresence(`${CONTACT}@c.us`, 'typing', { durationMs: -5 }), 'VALIDATION_FAILED');
  });

  it('receives every presence kind from a subscribed contact, paused as paused', async () => {
    const contact = `${CONTACT}@c.us`;
    let from = sut.events.length;
    await sut.engine.subscribe(contact);
    // The sandbox answers a subscribe with the current presence: the contact was never online.
    await sut.waitFor(presenceEvent(contact, { participant: contact, lastKnownPresence: 'offline', lastSeen: null }), { from });
    const steps: [Parameters<Sandbox['network']['setContactPresence']>[1], Partial<ParticipantPresence>][] = [
      [{ presence: 'online' }, { lastKnownPresence: 'online', lastSeen: null }],
      [{ presence: 'typing', chatId: me }, { lastKnownPresence: 'typing' }],
      [{ presence: 'recording', chatId: me }, { lastKnownPresence: 'recording' }],
      [{ presence: 'paused', chatId: me }, { lastKnownPresence: 'paused' }],
      [{ presence: 'offline' }, { lastKnownPresence: 'offline' }],
    ];
    for (const [input, expected] of steps) {
      from = sut.events.length;
      await sandbox.network.setContactPresence(CONTACT, input);
      await sut.waitFor(presenceEvent(contact, { participant: contact, ...expected }), { from });
    }
    const offline = sut.events.at(-1);
    expect(offline?.type === 'presence' && offline.presences[0]?.lastSeen).toBeGreaterThan(1_700_000_000);
  });

  it('reports a hidden last seen (last="deny") as lastSeen null, marked hidden', async () => {
    const hidden = `${HIDDEN}@c.us`;
    await sandbox.network.setContactPresence(HIDDEN, { presence: 'online' });
    await sandbox.network.setContactPresence(HIDDEN, { presence: 'offline' });
    const from = sut.events.length;
    await sut.engine.subscribe(hidden);
    await sut.waitFor(presenceEvent(hidden, { participant: hidden, lastKnownPresence: 'offline', lastSeen: null, lastSeenHidden: true }), { from });
  });

  it('keeps the LID form for a contact subscribed by LID', async () => {
    const account = (await sandbox.network.accounts()).find((a) => a.phone === HIDDEN);
    const lid = account?.lid ?? '';
    expect(lid).toMatch(/@lid$/);
    const from = sut.events.length;
    await sut.engine.subscribe(lid);
    await sut.waitFor(presenceEvent(lid, { participant: lid, lastKnownPresence: 'offline' }), { from });
    const next = sut.events.length;
    await sandbox.network.setContactPresence(HIDDEN, { presence: 'typing', chatId: me });
    await sut.waitFor(presenceEvent(lid, { participant: lid, lastKnownPresence: 'typing' }), { from: next });
  });

  it('keeps one entry per participant in a group', async () => {
    const { id: group } = await sandbox.network.createGroup({ subject: 'Team', participants: [phone, CONTACT, MEMBER] });
    await sut.engine.subscribe(group);
    let from = sut.events.length;
    await sandbox.network.setContactPresence(CONTACT, { presence: 'typing', chatId: group });
    await sut.waitFor(presenceEvent(group, { participant: `${CONTACT}@c.us`, lastKnownPresence: 'typing' }), { from });
    from = sut.events.length;
    await sandbox.network.setContactPresence(MEMBER, { presence: 'recording', chatId: group });
    await sut.waitFor(presenceEvent(group, { participant: `${MEMBER}@c.us`, lastKnownPresence: 'recording' }), { from });
    from = sut.events.length;
    await sandbox.network.setContactPresence(MEMBER, { presence: 'paused', chatId: group });
    await sut.waitFor(presenceEvent(group, { participant: `${MEMBER}@c.us`, lastKnownPresence: 'paused' }), { from });
  });

  it('reconnects after the connection drops, and WORKING is emitted again', async () => {
    const from = sut.events.length;
    const { dropped } = await sandbox.network.drop(phone);
    expect(dropped).toBe(1);
    await sut.waitForStatus('STARTING', from);
    await sut.waitForStatus('WORKING', from);
    // Subscriptions die with the connection: a fresh subscribe works on the new one.
    const next = sut.events.length;
    await sut.engine.subscribe(`${CONTACT}@c.us`);
    await sut.waitFor(presenceEvent(`${CONTACT}@c.us`, { lastKnownPresence: 'offline' }), { from: next });
  });

  it('stop sends paused for a typing in progress, and keeps the credentials', async () => {
    await sut.engine.setChatPresence(`${CONTACT}@c.us`, 'typing');
    await eventually(lastReceived(CONTACT, 'chatstate'), (s) => s?.state === 'composing');
    await sut.engine.stop();
    await eventually(lastReceived(CONTACT, 'chatstate'), (s) => s?.state === 'paused');
    expect(sut.statuses().at(-1)).toBe('STOPPED');
    await expectAppError(sut.engine.setPresence('online'), 'SESSION_NOT_WORKING');
    await sut.engine.stop();
    expect(sut.statuses().filter((s) => s === 'STOPPED')).toHaveLength(1);
  });

  it('resumes from stored credentials without a new scan', async () => {
    const resumed = engineUnderTest(factory, { session: 'engine-test', auth: sut.auth });
    await resumed.engine.start();
    await resumed.waitForStatus('WORKING');
    expect(resumed.events.some((event) => event.type === 'qr')).toBe(false);
    expect(resumed.statuses()).toEqual(['STARTING', 'WORKING']);
    sut = resumed;
  });

  it('logout ends a typing in progress, unlinks the device and wipes its credentials, saying so', async () => {
    await sut.engine.setChatPresence(`${CONTACT}@c.us`, 'typing');
    await eventually(lastReceived(CONTACT, 'chatstate'), (s) => s?.state === 'composing');
    const from = sut.events.length;
    await sut.engine.logout();
    expect(sut.events.slice(from)).toEqual([{ type: 'status', status: 'STOPPED', reason: expect.stringMatching(/^Logged out: .*scan a new QR code/) as unknown, unlinked: true }]);
    expect(sut.auth.data.size).toBe(0);
    expect((await lastReceived(CONTACT, 'chatstate')())?.state).toBe('paused');
    // The sandbox got Baileys' remove-companion-device: the device is gone, not just disconnected.
    await eventually(async () => (await sandbox.network.accounts()).find((a) => a.phone === phone), (a) => a?.connections.length === 0 && a.devices.length === 0);
    await expectAppError(sut.engine.setChatPresence(`${CONTACT}@c.us`, 'typing'), 'SESSION_NOT_WORKING');
  });
});

describe('NOWEB engine: push name', () => {
  it('refuses online/offline with PUSH_NAME_MISSING when the account has no push name', async () => {
    const auth = new FakeAuthStore();
    const creds = { ...initAuthCreds(), me: { id: '4915550000777:1@s.whatsapp.net' } };
    await auth.set([{ category: CREDS_CATEGORY, id: CREDS_ID, value: serialise(creds) }]);
    const sut = engineUnderTest(factory, { session: 'nameless', auth });
    await sut.engine.start();
    try {
      await sut.waitForStatus('WORKING');
      await expectAppError(sut.engine.setPresence('online'), 'PUSH_NAME_MISSING');
      // Chat states do not need a name.
      await sut.engine.setChatPresence(`${CONTACT}@c.us`, 'paused');
    } finally {
      await sut.engine.stop();
    }
  });
});

describe('NOWEB engine: pairing code', () => {
  it('validates the number, needs a started session, and asks WhatsApp for a code once the socket is ready', async () => {
    const sut = engineUnderTest(factory, { session: 'pairing-code' });
    await expectAppError(sut.engine.requestPairingCode('12ab'), 'VALIDATION_FAILED');
    await expectAppError(sut.engine.requestPairingCode('4915550000888'), 'SESSION_NOT_WORKING');
    await sut.engine.start();
    try {
      // Called right after start: the engine waits for the pairing step instead of failing.
      const code = await sut.engine.requestPairingCode('+49 1555 0000888');
      expect(code).toMatch(/^[A-Z0-9]{8}$/);
      expect(sut.statuses()).toContain('SCAN_QR_CODE');
    } finally {
      await sut.engine.stop();
    }
  });
});

describe('NOWEB engine: markOnline', () => {
  it('with markOnline false, connects without going online (the phone keeps its notifications)', async () => {
    const auth = new FakeAuthStore();
    const phone = '4915550000778';
    const creds = { ...initAuthCreds(), me: { id: `${phone}:1@s.whatsapp.net`, name: 'Quiet' } };
    await auth.set([{ category: CREDS_CATEGORY, id: CREDS_ID, value: serialise(creds) }]);
    const sut = engineUnderTest(factory, { session: 'quiet', auth, config: { noweb: { markOnline: false } } });
    await sut.engine.start();
    try {
      await sut.waitForStatus('WORKING');
      // The subscribe travels after whatever was sent on open: once the sandbox shows it, it saw those too.
      await sut.engine.subscribe(`${CONTACT}@c.us`);
      await eventually(
        async () => (await sandbox.network.accounts()).find((a) => a.phone === phone)?.connections[0]?.subscriptions ?? [],
        (subs) => subs.length === 1,
      );
      const mine = async () => (await sandbox.network.received(CONTACT)).filter((s) => s.from === `${phone}@s.whatsapp.net`);
      expect(await mine()).toEqual([]);
      expect((await sandbox.network.accounts()).find((a) => a.phone === phone)?.presence).toBe('offline');
      await sut.engine.setPresence('online');
      await eventually(mine, (got) => got.some((s) => s.state === 'available'));
    } finally {
      await sut.engine.stop();
    }
  });
});

describe('NOWEB engine: sandbox auto-pairing', () => {
  it('pairs by itself when the network says autoPair (the QR goes to the sandbox admin API)', async () => {
    const autoFactory = createNowebEngineFactory({
      network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: true },
      logger: pino({ level: 'silent' }),
    });
    const sut = engineUnderTest(autoFactory, { session: 'auto' });
    await sut.engine.start();
    try {
      await sut.waitForStatus('WORKING');
      expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
      expect(sut.events.find((event) => event.type === 'me')).toMatchObject({ me: { id: expect.stringMatching(/@c\.us$/) as unknown } });
    } finally {
      await sut.engine.stop();
    }
  });
});

describe('NOWEB engine: linking by pairing code against the sandbox', () => {
  it('links by the code typed on the phone, as that number, with auto-pairing off for the session', async () => {
    const autoFactory = createNowebEngineFactory({
      network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: true },
      logger: pino({ level: 'silent' }),
    });
    const phone = '4915550000881';
    const sut = engineUnderTest(autoFactory, { session: 'by-code', config: { sandbox: { autoPair: false } } });
    await sut.engine.start();
    try {
      await sut.waitForStatus('SCAN_QR_CODE');
      const first = await sut.engine.requestPairingCode(phone);
      // A second request on the same connection replaces the first (the number may have been mistyped).
      const code = await sut.engine.requestPairingCode(`+${phone}`);
      await sandbox.network.untilCodeRequested(phone, { times: 2 });
      if (first !== code) {
        await expect(sandbox.network.enterLinkCode({ phone, code: first })).rejects.toMatchObject({ kind: 'rejected' });
      }
      await sandbox.network.enterLinkCode({ phone, code, name: 'By Code' });
      await sut.waitForStatus('WORKING');
      expect(sut.statuses()).toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
      expect(sut.events.find((event) => event.type === 'me')).toMatchObject({ me: { id: `${phone}@c.us`, pushName: 'By Code' } });
      await expectAppError(sut.engine.requestPairingCode(phone), 'SESSION_NOT_WORKING');
    } finally {
      await sut.engine.stop();
    }
  });

  it('forgets a code request when its connection ends: the next start shows a QR instead of logging in as the phone', async () => {
    const phone = '4915550000882';
    const sut = engineUnderTest(factory, { session: 'code-expired' });
    await sut.engine.start();
    await sut.engine.requestPairingCode(phone);
    await sandbox.network.untilCodeRequested(phone);
    await sut.engine.stop();
    const from = sut.events.length;
    await sut.engine.start();
    try {
      await sut.waitForStatus('SCAN_QR_CODE', from);
      expect(sut.statuses().slice(-2)).toEqual(['STARTING', 'SCAN_QR_CODE']);
      // Neither adopted as the phone's own device 0 nor linked: the number has no account.
      expect((await sandbox.network.accounts()).find((account) => account.phone === phone)).toBeUndefined();
      await expect(sandbox.network.enterLinkCode({ phone, code: 'ABCDEFGH' })).rejects.toMatchObject({ kind: 'not_found' });
      // And a new code can be asked for on this connection.
      expect(await sut.engine.requestPairingCode(phone)).toMatch(/^[A-Z0-9]{8}$/);
    } finally {
      await sut.engine.stop();
    }
  });
});

describe('NOWEB engine: sandbox auto-pairing wrapper', () => {
  it('scans every QR until a pairing code is asked for; after a failed request it scans again', async () => {
    const scanned: string[] = [];
    let fake: FakeEngine | null = null;
    const context = { session: 'wrapped', config: {}, auth: new FakeAuthStore(), logger: pino({ level: 'silent' }), emit: () => undefined };
    const engine = autoPairing(context, (qr) => {
      scanned.push(qr);
      return Promise.resolve({ phone: '1' });
    }, (wrapped) => (fake = new FakeEngine(wrapped)));
    if (fake === null) throw new Error('the wrapper did not create its engine');
    const inner: FakeEngine = fake;
    await engine.start();
    inner.emit({ type: 'qr', value: 'qr-1' });
    inner.failNext('requestPairingCode', new Error('bad number'));
    await expect(engine.requestPairingCode('12')).rejects.toThrow('bad number');
    inner.emit({ type: 'qr', value: 'qr-2' });
    expect(await engine.requestPairingCode('4915550000883')).toBe(inner.pairingCode);
    inner.emit({ type: 'qr', value: 'qr-3' });
    expect(scanned).toEqual(['qr-1', 'qr-2']);
    await engine.stop();
    expect(inner.calls.map((call) => call.method)).toEqual(['start', 'requestPairingCode', 'requestPairingCode', 'stop']);
  });
});

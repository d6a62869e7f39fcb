import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createNowebEngineFactory } from '../../src/engines/noweb/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../src/sandbox/index.js';
import type { AccountInfo, Sandbox } from '../../src/sandbox/index.js';
import { readWorld, WORLD_FILE } from '../../src/sandbox/persist.js';
import { FakeAuthStore } from '../support/fake-auth-store.js';
import { engineUnderTest } from '../engines/noweb/harness.js';

/**
 * A sandbox started again from the same data directory is the network it was: contacts, groups,
 * privacy, presence and last seen, and the linked devices, which log in with their credentials.
 */

const teardown: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

const ALICE = '4915550000201';
const BOB = '4915550000202';

function engineFor(sandbox: Sandbox, auth: FakeAuthStore) {
  const factory = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: true, scan: (qr) => sandbox.network.scan({ qr, name: 'Me' }) },
    logger: pino({ level: 'silent' }),
  });
  return engineUnderTest(factory, { session: 'persisted', auth });
}

/** What a user sees of an account; live connections end with the process. */
const visible = (accounts: readonly AccountInfo[]) => accounts.map(({ connections: _connections, ...rest }) => rest);

describe('sandbox persistence', () => {
  it('keeps contacts, groups, privacy, presence, last seen and devices across a restart from the same directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-sandbox-world-'));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const first = await startSandbox({ dataDir, autoPair: false, adminApi: false });
    let firstOpen = true;
    teardown.push(async () => {
      if (firstOpen) await first.close();
    });

    await first.network.createContact({ phone: ALICE, name: 'Alice' });
    // An admin change answered is on disk already, before any shutdown.
    expect(readWorld(join(dataDir, WORLD_FILE))?.accounts.map((account) => account.phone)).toEqual([ALICE]);
    await first.network.createContact({ phone: BOB, name: 'Bob', lastSeenPrivacy: 'nobody' });
    await first.network.setContactPresence(ALICE, { presence: 'online' });
    await first.network.setContactPresence(BOB, { presence: 'online' });
    await first.network.setContactPresence(BOB, { presence: 'offline' });

    const auth = new FakeAuthStore();
    const before = engineFor(first, auth);
    await before.engine.start();
    await before.waitForStatus('WORKING');
    const me = before.events.find((event) => event.type === 'me');
    if (me?.type !== 'me') throw new Error('no me event');
    const phone = me.me.id.replace('@c.us', '');
    const { id: group } = await first.network.createGroup({ subject: 'Team', participants: [ALICE, BOB, phone] });
    await before.engine.stop();
    const accountsBefore = await first.network.accounts();
    await first.close();
    firstOpen = false;

    const second = await startSandbox({ dataDir, autoPair: false, adminApi: false });
    teardown.push(() => second.close());
    expect(visible(await second.network.accounts())).toEqual(visible(accountsBefore));
    const accounts = await second.network.accounts();
    expect(accounts.find((account) => account.phone === ALICE)).toMatchObject({ presence: 'online', lastSeenPrivacy: 'everyone' });
    expect(accounts.find((account) => account.phone === BOB)).toMatchObject({ presence: 'offline', lastSeenPrivacy: 'nobody', lastSeen: expect.any(Number) as unknown });
    expect(accounts.find((account) => account.phone === phone)).toMatchObject({ name: 'Me', devices: [{ id: 1 }] });
    expect(second.network.view.group(group.replace('@g.us', ''))?.participants).toEqual([ALICE, BOB, phone]);
    expect(second.network.presenceOf(`${BOB}@s.whatsapp.net`)).toContain('deny');

    // The device logs in with its credentials as the device it was linked as: no new pairing, no adoption.
    const after = engineFor(second, auth);
    await after.engine.start();
    teardown.push(() => after.engine.stop());
    await after.waitForStatus('WORKING');
    expect(after.statuses()).toEqual(['STARTING', 'WORKING']);
    expect(second.network.stats()).toMatchObject({ pairings: 0, logins: 1 });
    expect((await second.network.accounts()).find((account) => account.phone === phone)?.lid).toBe(accountsBefore.find((account) => account.phone === phone)?.lid);

    // Numbers handed out go on where they stopped: a new group does not reuse the old id.
    const { id: another } = await second.network.createGroup({ subject: 'Other', participants: [ALICE, BOB] });
    expect(another).not.toBe(group);
  });

  it('coalesces presence changes into one later write, and writes what is pending when it closes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-sandbox-world-'));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const file = join(dataDir, WORLD_FILE);
    const sandbox = await startSandbox({ dataDir, saveDelayMs: 60_000 });
    let open = true;
    teardown.push(async () => {
      if (open) await sandbox.close();
    });
    await sandbox.network.createContact({ phone: ALICE });
    for (let i = 0; i < 200; i += 1) await sandbox.network.setContactPresence(ALICE, { presence: i % 2 === 0 ? 'online' : 'offline' });
    await sandbox.network.setContactPresence(ALICE, { presence: 'online' });
    // Not written per change: the file still has the contact as it was created.
    expect(readWorld(file)?.accounts.find((account) => account.phone === ALICE)).toMatchObject({ online: false, lastSeen: null });
    await sandbox.close();
    open = false;
    expect(readWorld(file)?.accounts.find((account) => account.phone === ALICE)).toMatchObject({ online: true, lastSeen: expect.any(Number) as unknown });
  });

  it('refuses a damaged world file with a message naming it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-sandbox-world-'));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dataDir, WORLD_FILE), '{"version":1,"accounts":[');
    await expect(startSandbox({ dataDir })).rejects.toThrow(/sandbox-world\.json is not valid JSON/);
  });
});

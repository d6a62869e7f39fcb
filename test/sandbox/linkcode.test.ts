import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/sandbox/index.js';
import { SandboxError, startSandbox } from '../../src/sandbox/index.js';
import { normaliseLinkCode } from '../../src/sandbox/linkcode.js';
import { connectClient, memoryAuthState } from '../support/baileys-client.js';

/**
 * Linking by phone number with real Baileys clients: the client asks for a code
 * (`requestPairingCode`), the test types it on the sandbox's phone (`enterLinkCode`, or
 * `POST /api/sandbox/link-code`), and the code alone decides whether the device is linked.
 */

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false });
});
afterAll(async () => {
  await sandbox.close();
});

async function linkCode(body: unknown): Promise<{ status: number; body: { message?: string; phone?: string; device?: number } }> {
  const response = await fetch(`${sandbox.adminUrl}/api/sandbox/link-code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { message?: string } };
}

/** Another valid code: the same but for its first symbol. */
function otherCode(code: string): string {
  return `${code.startsWith('A') ? 'B' : 'A'}${code.slice(1)}`;
}

const accountOf = async (phone: string) => (await sandbox.network.accounts()).find((account) => account.phone === phone);

describe('sandbox: linking a device by phone number (pairing code)', () => {
  it('links the device when its code is typed on the phone; it restarts and logs in as that number', async () => {
    const phone = '4915550001001';
    let shown = '';
    const client = await connectClient(sandbox, {
      scan: 'none',
      linkCode: {
        phone,
        enter: async (code) => {
          shown = code;
          await sandbox.network.untilCodeRequested(phone);
          // As a person types it: lower case, with the dash the screen shows.
          return sandbox.network.enterLinkCode({ phone, code: `${code.slice(0, 4)}-${code.slice(4)}`.toLowerCase(), name: 'Coded' });
        },
      },
    });
    try {
      expect(shown).toMatch(/^[1-9A-HJ-NP-TV-Z]{8}$/);
      expect(client.phone).toBe(phone);
      // pair-success verified with the adv secret Baileys derived from the exchange (else it would have closed).
      expect(client.auth.creds.me).toMatchObject({ id: `${phone}:1@s.whatsapp.net`, name: 'Coded' });
      expect(client.auth.creds.account?.accountSignatureKey).toBeDefined();
      const account = await accountOf(phone);
      expect(account?.devices.map((device) => device.id)).toEqual([1]);
      expect(account?.connections).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('links nothing with a wrong code (422); the device keeps waiting and the right code still links it', async () => {
    const phone = '4915550001002';
    let wrong: { status: number; body: { message?: string } } | null = null;
    let afterWrong: Awaited<ReturnType<typeof accountOf>> = undefined;
    const client = await connectClient(sandbox, {
      scan: 'none',
      linkCode: {
        phone,
        enter: async (code) => {
          await sandbox.network.untilCodeRequested(phone);
          wrong = await linkCode({ phone, code: otherCode(code) });
          afterWrong = await accountOf(phone);
          return linkCode({ phone, code });
        },
      },
    });
    try {
      expect(wrong).toMatchObject({ status: 422, body: { message: expect.stringContaining('wrong code') as unknown } });
      // The account the phone would have linked to was not kept, and no device was linked.
      expect(afterWrong).toBeUndefined();
      expect(client.auth.creds.me?.id).toBe(`${phone}:1@s.whatsapp.net`);
      expect((await accountOf(phone))?.devices).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('links nothing when only the wrong code is typed', async () => {
    const phone = '4915550001003';
    const attempt = connectClient(sandbox, {
      scan: 'none',
      timeoutMs: 4_000,
      linkCode: {
        phone,
        enter: async (code) => {
          await sandbox.network.untilCodeRequested(phone);
          return sandbox.network.enterLinkCode({ phone, code: otherCode(code) });
        },
      },
    });
    await expect(attempt).rejects.toSatisfy((error: unknown) => error instanceof SandboxError && error.kind === 'rejected');
    expect(await accountOf(phone)).toBeUndefined();
  });

  it('says what to fix: a malformed number or code (400), nobody waiting for a code (404), a contact (409)', async () => {
    expect(await linkCode({ phone: '12ab', code: 'ABCD-EFGH' })).toMatchObject({ status: 400, body: { message: expect.stringContaining('phone must be') as unknown } });
    expect(await linkCode({ phone: '4915550001004', code: 'ABCD-EFG0' })).toMatchObject({ status: 400, body: { message: expect.stringContaining('8 characters') as unknown } });
    expect(await linkCode({ phone: '4915550001004' })).toMatchObject({ status: 400 });
    expect(await linkCode({ phone: '4915550001004', code: 'ABCDEFGH', extra: 1 })).toMatchObject({ status: 400, body: { message: expect.stringContaining('extra') as unknown } });
    const nobody = await linkCode({ phone: '4915550001004', code: 'ABCDEFGH' });
    expect(nobody.status).toBe(404);
    expect(nobody.body.message).toContain('request-code');
    await sandbox.network.createContact({ phone: '4915550001006' });
    expect(await linkCode({ phone: '4915550001006', code: 'ABCDEFGH' })).toMatchObject({ status: 409, body: { message: expect.stringContaining('simulated contact') as unknown } });
  });

  it('forgets a code request when its device disconnects', async () => {
    const phone = '4915550001005';
    let shown = '';
    await expect(connectClient(sandbox, {
      scan: 'none',
      linkCode: {
        phone,
        enter: async (code) => {
          shown = code;
          await sandbox.network.untilCodeRequested(phone);
          throw new Error('walked away');
        },
      },
    })).rejects.toThrow('walked away');
    const deadline = Date.now() + 5_000;
    let outcome = await linkCode({ phone, code: shown });
    while (outcome.status !== 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      outcome = await linkCode({ phone, code: shown });
    }
    expect(outcome.status).toBe(404);
  });
});

describe('pairing codes as people type them', () => {
  it('ignores case, spaces and the dash, and refuses what cannot be a code', () => {
    expect(normaliseLinkCode('abcd-efgh')).toBe('ABCDEFGH');
    expect(normaliseLinkCode(' 1234 5678 ')).toBe('12345678');
    for (const bad of ['ABCDEFG', 'ABCDEFGHJ', 'ABCDEFG0', 'ABCDEFGI', 'ABCDEFGO', 'ABCDEFGU', 'ABCD_EFG']) expect(normaliseLinkCode(bad)).toBeNull();
  });
});

describe('sandbox: credentials of a code request that was never completed', () => {
  it('are refused with 401 (device 0 is the phone), not adopted as the phone itself', async () => {
    const phone = '4915550001007';
    const state = memoryAuthState();
    await expect(connectClient(sandbox, {
      auth: state,
      scan: 'none',
      linkCode: {
        phone,
        enter: async () => {
          await sandbox.network.untilCodeRequested(phone);
          throw new Error('never typed');
        },
      },
    })).rejects.toThrow('never typed');
    // What Baileys' requestPairingCode left behind: the bare phone JID, no device, no signed identity.
    expect(state.creds.me?.id).toBe(`${phone}@s.whatsapp.net`);
    expect(state.creds.account).toBeUndefined();
    await expect(connectClient(sandbox, { auth: state, scan: 'none', timeoutMs: 5_000 })).rejects.toThrow(/status 401/);
    expect(await accountOf(phone)).toBeUndefined();
  });
});

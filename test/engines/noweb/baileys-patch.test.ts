import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { addTransactionCapability } from 'baileys';
import type { SignalDataSet, SignalDataTypeMap, SignalKeyStore } from 'baileys';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

// scripts/patch-baileys.mjs (postinstall) makes every socket's key store share one AsyncLocalStorage
// (WhiskeySockets/Baileys#2806). These tests check that it ran, and that each store still sees only
// its own transaction, as with one AsyncLocalStorage a store.

const logger = pino({ level: 'silent' });
const options = { maxCommitRetries: 1, delayBetweenTriesMs: 1 };

/** Test double of a key store: an in-memory map that counts writes. */
function memoryStore(): SignalKeyStore & { readonly data: Map<string, unknown>; writes: number } {
  const data = new Map<string, unknown>();
  return {
    data,
    writes: 0,
    get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const found: Record<string, SignalDataTypeMap[T]> = {};
      for (const id of ids) {
        const value = data.get(`${type}/${id}`);
        if (value !== undefined) found[id] = value as SignalDataTypeMap[T];
      }
      return Promise.resolve(found);
    },
    set(set: SignalDataSet) {
      this.writes += 1;
      for (const [type, values] of Object.entries(set)) {
        for (const [id, value] of Object.entries(values ?? {})) data.set(`${type}/${id}`, value);
      }
      return Promise.resolve();
    },
  };
}

const session = (n: number): SignalDataTypeMap['session'] => new Uint8Array([n]);

describe('Baileys patch: one AsyncLocalStorage for every socket', () => {
  it('is applied to the installed Baileys', () => {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('baileys/package.json'));
    const source = readFileSync(join(root, 'lib', 'Utils', 'auth-utils.js'), 'utf8');
    expect(source).toContain('wa-presence patch (scripts/patch-baileys.mjs)');
    expect(source).not.toContain('const txStorage = new AsyncLocalStorage();');
  });

  it('keeps each store\'s transaction to itself, nested across stores too', async () => {
    const aState = memoryStore();
    const bState = memoryStore();
    const a = addTransactionCapability(aState, logger, options);
    const b = addTransactionCapability(bState, logger, options);
    await a.transaction(async () => {
      await a.set({ session: { x: session(1) } });
      expect(a.isInTransaction()).toBe(true);
      expect(b.isInTransaction()).toBe(false);
      // Inside a's transaction, b writes through at once and does not see a's pending write.
      await b.set({ session: { x: session(2) } });
      expect(bState.writes).toBe(1);
      expect(await b.get('session', ['x'])).toEqual({ x: session(2) });
      expect(await a.get('session', ['x'])).toEqual({ x: session(1) });
      expect(aState.data.size).toBe(0);
      await b.transaction(async () => {
        expect(a.isInTransaction()).toBe(true);
        expect(b.isInTransaction()).toBe(true);
        await b.set({ session: { y: session(3) } });
        expect(await a.get('session', ['x'])).toEqual({ x: session(1) });
      }, 'b');
      expect(bState.data.get('session/y')).toEqual(session(3));
    }, 'a');
    expect(a.isInTransaction()).toBe(false);
    expect(aState.data.get('session/x')).toEqual(session(1));
    expect(aState.writes).toBe(1);
  });
});

describe('libsignal patch: XEdDSA signatures checked by native Ed25519', () => {
  const require = createRequire(join(createRequire(import.meta.url).resolve('baileys/package.json')));
  const curve = require('libsignal/src/curve.js') as {
    generateKeyPair(): { pubKey: Buffer; privKey: Buffer };
    calculateSignature(privKey: Buffer, message: Buffer): Buffer;
    verifySignature(pubKey: Buffer, message: Buffer, signature: Buffer): boolean;
  };
  const pure = require('curve25519-js') as { verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean };

  it('is applied to the libsignal Baileys loads', () => {
    const source = readFileSync(require.resolve('libsignal/src/curve.js'), 'utf8');
    expect(source).toContain('nativeXeddsaVerify(pubKey, msg, sig)');
    expect(source).not.toContain('curveJs.verify(pubKey, msg, sig)');
  });

  it('says what curve25519-js says, for valid signatures and for forged ones', () => {
    for (let round = 0; round < 40; round += 1) {
      const { pubKey, privKey } = curve.generateKeyPair();
      const message = Buffer.from(`message ${round} ${'x'.repeat(round * 7)}`);
      const signature = curve.calculateSignature(privKey, message);
      const raw = pubKey.subarray(1);
      const forgedMessage = Buffer.from(message);
      forgedMessage[round % forgedMessage.length] = (forgedMessage[round % forgedMessage.length] ?? 0) ^ 1;
      const forgedSignature = Buffer.from(signature);
      forgedSignature[round % 64] = (forgedSignature[round % 64] ?? 0) ^ 4;
      const other = curve.generateKeyPair().pubKey;
      const cases: [Buffer, Buffer, Buffer, boolean][] = [
        [pubKey, message, signature, true],
        [pubKey, forgedMessage, signature, false],
        [pubKey, message, forgedSignature, false],
        [other, message, signature, false],
      ];
      for (const [key, signed, sig, expected] of cases) {
        expect(curve.verifySignature(key, signed, sig)).toBe(expected);
        expect(pure.verify(key.subarray(1), signed, sig)).toBe(expected);
      }
      expect(raw.length).toBe(32);
    }
  });
});

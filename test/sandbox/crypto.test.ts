import { describe, expect, it } from 'vitest';
import { Curve } from 'baileys';
import { generateKeyPair, keyPairFromPrivate, sharedKey } from '../../src/sandbox/crypto.js';

describe('curve25519 keys and Diffie-Hellman', () => {
  it('generates key pairs whose public key is the one its private key derives', () => {
    for (let i = 0; i < 5; i++) {
      const pair = generateKeyPair();
      expect(pair.private).toHaveLength(32);
      expect(pair.public).toHaveLength(32);
      expect(keyPairFromPrivate(pair.private).public.equals(pair.public)).toBe(true);
    }
  });

  it('agrees with Baileys on the shared secret, both ways, however often a key is used', () => {
    const ours = generateKeyPair();
    const theirs = Curve.generateKeyPair();
    const other = Curve.generateKeyPair();
    const expected = Buffer.from(Curve.sharedKey(theirs.private, ours.public));
    // The first use imports the private key, later ones reuse it: all must give the same secret.
    expect(sharedKey(ours.private, theirs.public).equals(expected)).toBe(true);
    expect(sharedKey(ours.private, theirs.public).equals(expected)).toBe(true);
    // The same private key with another peer gives that peer's secret, not a cached one.
    expect(sharedKey(ours.private, other.public).equals(Buffer.from(Curve.sharedKey(other.private, ours.public)))).toBe(true);
    // An equal key in a different buffer works the same.
    expect(sharedKey(Buffer.from(ours.private), theirs.public).equals(expected)).toBe(true);
  });

  it('refuses a public key of the wrong length', () => {
    expect(() => sharedKey(generateKeyPair().private, Buffer.alloc(31))).toThrow(/32 bytes/);
  });
});

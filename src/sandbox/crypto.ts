import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Curve } from 'baileys';

/** A curve25519 key pair as raw 32-byte keys (the form Baileys and the wire use). */
export interface KeyPair {
  readonly public: Buffer;
  readonly private: Buffer;
}

// DER wrappers that let node:crypto import and export raw X25519 keys (RFC 8410).
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

// Importing a raw key (a DER parse) cost more than the DH it serves: the server's static key takes
// part in every handshake and each ephemeral key in two DHs, so each buffer is imported once. Key
// buffers are never written to after they are made, which keeps the cached object right.
const privateKeyObjects = new WeakMap<Buffer, KeyObject>();

function privateKeyObject(privateKey: Buffer): KeyObject {
  let key = privateKeyObjects.get(privateKey);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
    privateKeyObjects.set(privateKey, key);
  }
  return key;
}

function publicKeyObject(publicKey: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** Derives a key pair from a private key; the same 32 bytes always give the same pair. */
export function keyPairFromPrivate(privateKey: Buffer): KeyPair {
  if (privateKey.length !== 32) throw new Error(`a curve25519 private key is 32 bytes, got ${privateKey.length}`);
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
  return { private: Buffer.from(privateKey), public: Buffer.from(spki.subarray(SPKI_X25519_PREFIX.length)) };
}

/** A key pair whose private key is sha256 of a label: fixed seeds give fixed, checked-in-reproducible keys. */
export function keyPairFromSeed(seed: string): KeyPair {
  return keyPairFromPrivate(sha256(Buffer.from(seed, 'utf8')));
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519', {
    privateKeyEncoding: { format: 'der', type: 'pkcs8' },
    publicKeyEncoding: { format: 'der', type: 'spki' },
  });
  return { private: Buffer.from(privateKey.subarray(PKCS8_X25519_PREFIX.length)), public: Buffer.from(publicKey.subarray(SPKI_X25519_PREFIX.length)) };
}

/** X25519 Diffie-Hellman; throws on a malformed public key (callers close the connection). */
export function sharedKey(privateKey: Buffer, publicKey: Uint8Array): Buffer {
  if (publicKey.length !== 32) throw new Error(`a curve25519 public key is 32 bytes, got ${publicKey.length}`);
  return diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) });
}

/** XEdDSA signature as WhatsApp (libsignal) computes it, so Baileys' `Curve.verify` accepts it. */
export function sign(privateKey: Buffer, message: Uint8Array): Buffer {
  return Buffer.from(Curve.sign(privateKey, message));
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const FIELD_PRIME = 2n ** 255n - 19n;

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/**
 * Strict XEdDSA verification. Baileys' `Curve.verify` (rc14) reports true for any well-formed
 * input, so the sandbox checks its own signatures here: the Montgomery key u becomes the Edwards
 * y = (u - 1) / (u + 1), with the sign bit XEdDSA carries in the signature's last byte, and the
 * result is an ordinary Ed25519 verification.
 */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const u = BigInt(`0x${Buffer.from(publicKey).reverse().toString('hex')}`) & ((1n << 255n) - 1n);
  const y = ((u - 1n + FIELD_PRIME) * modPow(u + 1n, FIELD_PRIME - 2n, FIELD_PRIME)) % FIELD_PRIME;
  const edwards = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse();
  const signBit = (signature[63] ?? 0) & 0x80;
  edwards[31] = (edwards[31] ?? 0) | signBit;
  const ed25519Signature = Buffer.from(signature);
  ed25519Signature[63] = (ed25519Signature[63] ?? 0) & 0x7f;
  try {
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, edwards]), format: 'der', type: 'spki' });
    return cryptoVerify(null, message, key, ed25519Signature);
  } catch {
    // A point that does not decode is simply not a valid signer: the signature does not verify.
    return false;
  }
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** HKDF-SHA256 with an empty info string, split into two 32-byte halves (Noise MixKey / Split). */
export function hkdfPair(inputKeyMaterial: Uint8Array, salt: Uint8Array): [Buffer, Buffer] {
  const out = Buffer.from(hkdfSync('sha256', inputKeyMaterial, salt, Buffer.alloc(0), 64));
  return [out.subarray(0, 32), out.subarray(32)];
}

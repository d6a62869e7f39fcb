import { createCipheriv, createDecipheriv } from 'node:crypto';
import { proto } from 'baileys';
import type { KeyPair } from './crypto.js';
import { generateKeyPair, hkdfPair, sha256, sharedKey } from './crypto.js';
import { WA_INTRO } from './frames.js';

/**
 * The responder side of WhatsApp's Noise handshake, `Noise_XX_25519_AESGCM_SHA256`, mirroring
 * Baileys' initiator in `lib/Utils/noise-handler.js`:
 *
 *   -> e                      (clientHello.ephemeral)
 *   <- e, ee, s, es + certs   (serverHello{ephemeral, static, payload = CertChain})
 *   -> s, se + ClientPayload  (clientFinish{static, payload})
 *
 * WhatsApp's variants of plain Noise: the 32-byte protocol name is used raw as h, salt and key;
 * the WA intro is mixed into h before the client's ephemeral; during the handshake one GCM counter
 * serves both directions and restarts at 0 at every MixKey; AAD is h.
 */
const NOISE_MODE = Buffer.from('Noise_XX_25519_AESGCM_SHA256\0\0\0\0', 'latin1');
const GCM_TAG_BYTES = 16;

/** Why a handshake failed; the connection is closed with this reason. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
}

function iv(counter: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32BE(counter >>> 0, 8);
  return out;
}

function gcmEncrypt(key: Buffer, counter: number, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv(counter));
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function gcmDecrypt(key: Buffer, counter: number, aad: Uint8Array, ciphertext: Uint8Array): Buffer {
  if (ciphertext.length < GCM_TAG_BYTES) throw new HandshakeError('ciphertext shorter than its tag');
  const decipher = createDecipheriv('aes-256-gcm', key, iv(counter));
  decipher.setAAD(aad);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - GCM_TAG_BYTES));
  return Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - GCM_TAG_BYTES)), decipher.final()]);
}

/** The post-handshake cipher: one key and counter per direction, empty AAD. */
export interface Transport {
  encrypt(plaintext: Uint8Array): Buffer;
  /** Throws when the frame does not authenticate (tampered, replayed or out of order). */
  decrypt(ciphertext: Uint8Array): Buffer;
}

function createTransport(encryptKey: Buffer, decryptKey: Buffer): Transport {
  let writeCounter = 0;
  let readCounter = 0;
  const empty = Buffer.alloc(0);
  return {
    encrypt: (plaintext) => gcmEncrypt(encryptKey, writeCounter++, empty, plaintext),
    decrypt: (ciphertext) => gcmDecrypt(decryptKey, readCounter++, empty, ciphertext),
  };
}

export interface HandshakeResult {
  /** The client's static Noise key: Baileys' `creds.noiseKey.public`, stable for a device. */
  readonly clientStaticKey: Buffer;
  /** The encoded `ClientPayload` the client sent with its static key. */
  readonly clientPayload: Buffer;
  readonly transport: Transport;
}

export interface NoiseResponder {
  /** Handles the first frame (clientHello) and returns the serverHello frame to send. */
  readHello(frame: Uint8Array): Buffer;
  /** Handles the second frame (clientFinish) and returns the client's identity and the transport. */
  readFinish(frame: Uint8Array): HandshakeResult;
}

function decodeHandshake(frame: Uint8Array): proto.HandshakeMessage {
  try {
    return proto.HandshakeMessage.decode(frame);
  } catch (cause) {
    throw new HandshakeError('handshake frame is not a HandshakeMessage', { cause });
  }
}

/**
 * One responder per connection. `certChain` is the encoded chain certifying `staticKeyPair.public`.
 * `ephemeral` may be given for tests; by default a fresh key pair is made per connection.
 */
export function createNoiseResponder(options: {
  staticKeyPair: KeyPair;
  certChain: Uint8Array;
  ephemeral?: KeyPair;
}): NoiseResponder {
  const ephemeral = options.ephemeral ?? generateKeyPair();
  let hash: Buffer = NOISE_MODE;
  let salt: Buffer = NOISE_MODE;
  let key: Buffer = NOISE_MODE;
  let counter = 0;
  let step: 'hello' | 'finish' | 'done' = 'hello';
  let clientEphemeral: Buffer | null = null;

  const mixHash = (data: Uint8Array) => {
    hash = sha256(Buffer.concat([hash, data]));
  };
  const mixKey = (material: Uint8Array) => {
    [salt, key] = hkdfPair(material, salt);
    counter = 0;
  };
  const encrypt = (plaintext: Uint8Array) => {
    const out = gcmEncrypt(key, counter++, hash, plaintext);
    mixHash(out);
    return out;
  };
  const decrypt = (ciphertext: Uint8Array) => {
    let out: Buffer;
    try {
      out = gcmDecrypt(key, counter++, hash, ciphertext);
    } catch (cause) {
      throw new HandshakeError('handshake ciphertext does not authenticate', { cause });
    }
    mixHash(ciphertext);
    return out;
  };

  mixHash(WA_INTRO);

  return {
    readHello(frame) {
      if (step !== 'hello') throw new HandshakeError(`unexpected clientHello during ${step}`);
      const hello = decodeHandshake(frame).clientHello;
      const e = hello?.ephemeral;
      if (!e || e.length !== 32) throw new HandshakeError('clientHello without a 32-byte ephemeral key');
      clientEphemeral = Buffer.from(e);
      mixHash(clientEphemeral);
      mixHash(ephemeral.public);
      mixKey(sharedKey(ephemeral.private, clientEphemeral));
      const staticCiphertext = encrypt(options.staticKeyPair.public);
      mixKey(sharedKey(options.staticKeyPair.private, clientEphemeral));
      const payload = encrypt(options.certChain);
      step = 'finish';
      return Buffer.from(
        proto.HandshakeMessage.encode({
          serverHello: { ephemeral: ephemeral.public, static: staticCiphertext, payload },
        }).finish(),
      );
    },
    readFinish(frame) {
      if (step !== 'finish') throw new HandshakeError(`unexpected clientFinish during ${step}`);
      const finish = decodeHandshake(frame).clientFinish;
      if (!finish?.static || !finish.payload) throw new HandshakeError('clientFinish without static key or payload');
      const clientStaticKey = decrypt(finish.static);
      if (clientStaticKey.length !== 32) throw new HandshakeError('client static key is not 32 bytes');
      mixKey(sharedKey(ephemeral.private, clientStaticKey));
      const clientPayload = decrypt(finish.payload);
      // Split: the client writes with the first half and reads with the second.
      const [clientWrite, clientRead] = hkdfPair(Buffer.alloc(0), salt);
      step = 'done';
      return { clientStaticKey, clientPayload, transport: createTransport(clientRead, clientWrite) };
    },
  };
}

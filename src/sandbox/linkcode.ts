import { createCipheriv, createDecipheriv, hkdfSync, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { BinaryNode } from 'baileys';
import { getBinaryNodeChild } from 'baileys';
import { parseJid, SERVER_JID } from './jid.js';

/**
 * Linking a companion by phone number ("Link with phone number instead"), the stanzas as WhatsApp
 * relays them between the companion and the phone (the primary, which the sandbox plays itself):
 *
 * 1. companion → server: `<iq type="set" xmlns="md"><link_code_companion_reg stage="companion_hello"
 *    jid="<phone>@s.whatsapp.net">` carrying `link_code_pairing_wrapped_companion_ephemeral_pub`
 *    (salt 32 ‖ IV 16 ‖ AES-256-CTR of the companion's ephemeral public key under
 *    PBKDF2-SHA256(code, salt, 2^17 rounds, 32 bytes)), `companion_server_auth_key_pub` (its Noise
 *    key), `companion_platform_id`, `companion_platform_display` and `link_code_pairing_nonce`. The
 *    server answers `<link_code_companion_reg><link_code_pairing_ref>` and tells the phone. The code
 *    itself never travels: the companion shows it and a person types it on the phone.
 * 2. phone → server → companion: the phone unwraps the companion's ephemeral key with the typed code,
 *    makes an ephemeral pair of its own and wraps its public key the same way; the server relays it
 *    as `<notification type="link_code_companion_reg"><link_code_companion_reg stage="primary_hello">`
 *    with `link_code_pairing_wrapped_primary_ephemeral_pub`, `primary_identity_pub` and the ref.
 * 3. companion → server → phone: `stage="companion_finish"` with `link_code_pairing_wrapped_key_bundle`
 *    (salt 32 ‖ IV 12 ‖ AES-256-GCM of companion identity ‖ primary identity ‖ 32 random bytes, keyed
 *    by HKDF(DH(ephemerals), salt, "link_code_pairing_key_bundle_encryption_key")),
 *    `companion_identity_public` and the ref. The server acknowledges it with an empty result
 *    whatever the phone then makes of it.
 * 4. The phone opens the bundle. After a wrong code the two sides hold different ephemeral keys, the
 *    GCM tag does not verify, the phone tells its own user the code is wrong and the companion hears
 *    nothing more (it keeps waiting: another try, or its QR, can still link it). Otherwise both sides
 *    derive adv secret = HKDF(DH(ephemerals) ‖ DH(identities) ‖ random, "adv_secret"), and the phone
 *    signs the device exactly as after a QR scan: `pair-success`, HMAC'd with that secret.
 *
 * Observed in Baileys 7.0.0-rc14 (`Socket/socket.js` requestPairingCode, `Socket/messages-recv.js`
 * link_code_companion_reg) and whatsmeow's `pair-code.go`, which agree byte for byte.
 */

const pbkdf2Async = promisify(pbkdf2);

/** PBKDF2 rounds for the code key: 2 << 16, as both sides use. Slow on purpose (~0.1 s), so it runs off the event loop. */
const CODE_KEY_ROUNDS = 2 << 16;
const WRAPPED_KEY_BYTES = 32 + 16 + 32;
const KEY_BUNDLE_INFO = 'link_code_pairing_key_bundle_encryption_key';
const ADV_SECRET_INFO = 'adv_secret';
const GCM_TAG_BYTES = 16;
/** The 32 symbols of a pairing code: Crockford-like base32 without 0, I, O and U. */
const CODE = /^[1-9A-HJ-NP-TV-Z]{8}$/;

export class LinkCodeError extends Error {
  override readonly name = 'LinkCodeError';
}

/** What a companion asked for in `companion_hello`. */
export interface LinkCodeRequest {
  /** The number of the account it wants to join, digits only. */
  readonly phone: string;
  /** salt ‖ IV ‖ its ephemeral public key, encrypted with the code. */
  readonly wrappedEphemeral: Buffer;
  /** The server's name for this request, echoed in every later stage. */
  readonly ref: string;
  /** `companion_platform_display`, e.g. "Chrome (Ubuntu)". */
  readonly platform: string;
  /** 1 for the device's first code request on its connection, 2 for the one that replaced it, … */
  readonly sequence: number;
}

/** What a companion sent in `companion_finish`. */
export interface CompanionFinish {
  readonly ref: string;
  readonly wrappedKeyBundle: Buffer;
  readonly companionIdentity: Buffer;
}

function childBytes(node: BinaryNode | undefined, tag: string): Buffer | undefined {
  const content = getBinaryNodeChild(node, tag)?.content;
  if (content instanceof Uint8Array) return Buffer.from(content);
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  return undefined;
}

/** The `link_code_companion_reg` child of an `md` iq or notification, if it has one. */
export function linkCodeStage(node: BinaryNode): { stage: string; reg: BinaryNode } | null {
  const reg = getBinaryNodeChild(node, 'link_code_companion_reg');
  return reg === undefined ? null : { stage: reg.attrs.stage ?? '', reg };
}

/** Reads `companion_hello`; `noiseKey` is the key the connection's handshake proved. Throws LinkCodeError. */
export function readCompanionHello(reg: BinaryNode, noiseKey: Buffer): Omit<LinkCodeRequest, 'ref' | 'sequence'> {
  const jid = parseJid(reg.attrs.jid ?? '');
  if (jid?.kind !== 'pn' || jid.device !== 0) throw new LinkCodeError(`companion_hello names no phone number: jid="${reg.attrs.jid ?? ''}"`);
  const wrappedEphemeral = childBytes(reg, 'link_code_pairing_wrapped_companion_ephemeral_pub');
  if (wrappedEphemeral?.length !== WRAPPED_KEY_BYTES) throw new LinkCodeError(`companion_hello needs a ${WRAPPED_KEY_BYTES}-byte wrapped ephemeral key`);
  const authKey = childBytes(reg, 'companion_server_auth_key_pub');
  if (authKey === undefined || !authKey.equals(noiseKey)) throw new LinkCodeError("companion_hello's companion_server_auth_key_pub is not this connection's noise key");
  return { phone: jid.user, wrappedEphemeral, platform: childBytes(reg, 'companion_platform_display')?.toString('utf8') ?? '' };
}

/** Reads `companion_finish`. Throws LinkCodeError. */
export function readCompanionFinish(reg: BinaryNode): CompanionFinish {
  const ref = childBytes(reg, 'link_code_pairing_ref')?.toString('utf8');
  const wrappedKeyBundle = childBytes(reg, 'link_code_pairing_wrapped_key_bundle');
  const companionIdentity = childBytes(reg, 'companion_identity_public');
  if (ref === undefined || ref === '') throw new LinkCodeError('companion_finish without link_code_pairing_ref');
  if (wrappedKeyBundle === undefined || wrappedKeyBundle.length <= 32 + 12 + GCM_TAG_BYTES) throw new LinkCodeError('companion_finish without a wrapped key bundle');
  if (companionIdentity?.length !== 32) throw new LinkCodeError('companion_finish needs a 32-byte companion_identity_public');
  return { ref, wrappedKeyBundle, companionIdentity };
}

export function newLinkCodeRef(): string {
  return `2@${randomBytes(24).toString('base64')}`;
}

/** The children of the `<iq type="result">` that answers `companion_hello`. */
export function companionHelloAnswer(ref: string): BinaryNode[] {
  return [{ tag: 'link_code_companion_reg', attrs: {}, content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(ref) }] }];
}

/**
 * A code as a person types it: case and the separator shown in "ABCD-EFGH" do not matter.
 * Returns the 8 symbols, or null when it cannot be a pairing code.
 */
export function normaliseLinkCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  return CODE.test(code) ? code : null;
}

async function codeKey(code: string, salt: Buffer): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(code, 'utf8'), salt, CODE_KEY_ROUNDS, 32, 'sha256');
}

/**
 * Decrypts the other side's ephemeral public key with the code. A wrong code gives 32 wrong bytes,
 * not an error: CTR mode has nothing to check, which is why a wrong code shows only at the key bundle.
 */
export async function unwrapEphemeral(wrapped: Buffer, code: string): Promise<Buffer> {
  const key = await codeKey(code, wrapped.subarray(0, 32));
  const decipher = createDecipheriv('aes-256-ctr', key, wrapped.subarray(32, 48));
  return Buffer.concat([decipher.update(wrapped.subarray(48, WRAPPED_KEY_BYTES)), decipher.final()]);
}

/** Encrypts an ephemeral public key with the code: salt ‖ IV ‖ ciphertext, as the companion does. */
export async function wrapEphemeral(publicKey: Buffer, code: string): Promise<Buffer> {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const key = await codeKey(code, salt);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([salt, iv, cipher.update(publicKey), cipher.final()]);
}

/** The phone's answer, as the server relays it to the companion. */
export function primaryHelloNode(options: { id: string; ref: string; wrappedEphemeral: Buffer; primaryIdentity: Buffer; nowSeconds: number }): BinaryNode {
  return {
    tag: 'notification',
    attrs: { from: SERVER_JID, type: 'link_code_companion_reg', id: options.id, t: String(options.nowSeconds) },
    content: [{
      tag: 'link_code_companion_reg',
      attrs: { stage: 'primary_hello' },
      content: [
        { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: options.wrappedEphemeral },
        { tag: 'primary_identity_pub', attrs: {}, content: options.primaryIdentity },
        { tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(options.ref) },
      ],
    }],
  };
}

export interface KeyBundle {
  readonly companionIdentity: Buffer;
  readonly primaryIdentity: Buffer;
  readonly advRandom: Buffer;
}

/** Opens the companion's key bundle with the ephemeral shared secret; null when it does not open (a wrong code). */
export function openKeyBundle(wrapped: Buffer, ephemeralShared: Buffer): KeyBundle | null {
  const salt = wrapped.subarray(0, 32);
  const iv = wrapped.subarray(32, 44);
  const sealed = wrapped.subarray(44);
  const key = Buffer.from(hkdfSync('sha256', ephemeralShared, salt, KEY_BUNDLE_INFO, 32));
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)), decipher.final()]);
  } catch {
    // The tag did not verify: the two sides derived different keys, so the code was not the companion's.
    return null;
  }
  if (plain.length !== 96) return null;
  return { companionIdentity: plain.subarray(0, 32), primaryIdentity: plain.subarray(32, 64), advRandom: plain.subarray(64) };
}

/** The adv secret both sides derive; it keys the pair-success HMAC as the QR's adv secret does. */
export function deriveAdvSecret(ephemeralShared: Buffer, identityShared: Buffer, advRandom: Buffer): Buffer {
  // No salt: HKDF then uses 32 zero bytes, which is what Baileys and whatsmeow do.
  return Buffer.from(hkdfSync('sha256', Buffer.concat([ephemeralShared, identityShared, advRandom]), Buffer.alloc(0), ADV_SECRET_INFO, 32));
}

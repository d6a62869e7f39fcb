import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { BinaryNode } from 'baileys';
import { getBinaryNodeChild, proto } from 'baileys';
import { sign, verify } from './crypto.js';
import { deviceJid, SERVER_JID } from './jid.js';
import type { Account } from './state.js';

/**
 * Pairing a new companion device by QR, the phone's side of it (linking by code ends the same way,
 * from step 2's pair-success on; see linkcode.ts):
 * 1. a client connects with `ClientPayload.devicePairingData` and no username; the sandbox sends
 *    `<iq type="set" xmlns="md"><pair-device><ref/>…</pair-device></iq>` and the client shows
 *    `https://wa.me/settings/linked_devices#<ref>,<noise key>,<identity key>,<adv secret>,<platform>`
 *    (one ref per QR, rotated);
 * 2. someone "scans" it (admin API): the sandbox signs the device's identity with the account's key
 *    and HMACs it with the QR's adv secret, which only the QR carries, so pairing cannot happen
 *    without the QR; it sends `pair-success`;
 * 3. the client answers with `pair-device-sign` (its own signature over the same identity), then
 *    the sandbox ends the stream with `<stream:error code="515"/>` (restart required) and the client
 *    reconnects with its new credentials as an ordinary login.
 */

/** Baileys rotates through the refs, a QR each (60 s, then 20 s each); after the last it gives up. */
export const PAIR_REF_COUNT = 6;
const ADV_ACCOUNT_SIG_PREFIX = Buffer.from([6, 0]);
const ADV_DEVICE_SIG_PREFIX = Buffer.from([6, 1]);
const QR_PREFIX = 'https://wa.me/settings/linked_devices#';

export function newPairRefs(): string[] {
  return Array.from({ length: PAIR_REF_COUNT }, () => `2@${randomBytes(24).toString('base64')}`);
}

export function pairDeviceNode(id: string, refs: readonly string[]): BinaryNode {
  return {
    tag: 'iq',
    attrs: { from: SERVER_JID, type: 'set', id, xmlns: 'md' },
    content: [{ tag: 'pair-device', attrs: {}, content: refs.map((ref) => ({ tag: 'ref', attrs: {}, content: Buffer.from(ref) })) }],
  };
}

export interface ScannedQr extends PairingSecrets {
  readonly ref: string;
  readonly noiseKey: Buffer;
}

function key32(value: string, what: string): Buffer {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== 32) throw new QrError(`the QR's ${what} must be 32 bytes in base64`);
  return bytes;
}

export class QrError extends Error {
  override readonly name = 'QrError';
}

/** Reads the QR text a Baileys client shows; throws QrError saying what is wrong with it. */
export function parsePairingQr(qr: string): ScannedQr {
  const body = qr.startsWith(QR_PREFIX) ? qr.slice(QR_PREFIX.length) : qr;
  const parts = body.split(',');
  if (parts.length < 4) {
    throw new QrError('qr must be the text of a pairing QR: "<ref>,<noise key>,<identity key>,<adv secret>[,<platform>]"');
  }
  const [ref = '', noise = '', identity = '', adv = ''] = parts;
  if (ref === '') throw new QrError("the QR's ref is empty");
  return { ref, noiseKey: key32(noise, 'noise key'), identityKey: key32(identity, 'identity key'), advSecret: key32(adv, 'adv secret') };
}

/**
 * What the phone knows about a device it links: its identity key, and the adv secret it shares with
 * it (carried by the QR, or derived from the pairing code's exchange, see linkcode.ts).
 */
export interface PairingSecrets {
  readonly identityKey: Buffer;
  readonly advSecret: Buffer;
}

/**
 * Builds `pair-success`: an `ADVDeviceIdentity` signed by the account (prefix 6,0 ‖ details ‖ the
 * device's identity key), wrapped and HMAC'd with the adv secret, plus the device JID and the push
 * name (`<biz name>`; without a name Baileys never sends available/unavailable).
 */
export function pairSuccessNode(options: {
  id: string;
  account: Account;
  deviceId: number;
  secrets: PairingSecrets;
  nowSeconds: number;
}): BinaryNode {
  const { account, deviceId, secrets } = options;
  const details = proto.ADVDeviceIdentity.encode({
    rawId: randomInt(1, 2 ** 31),
    timestamp: options.nowSeconds,
    keyIndex: deviceId,
    accountType: proto.ADVEncryptionType.E2EE,
    deviceType: proto.ADVEncryptionType.E2EE,
  }).finish();
  const accountSignature = sign(account.identity.private, Buffer.concat([ADV_ACCOUNT_SIG_PREFIX, details, secrets.identityKey]));
  const signed = proto.ADVSignedDeviceIdentity.encode({
    details,
    accountSignatureKey: account.identity.public,
    accountSignature,
  }).finish();
  const hmac = createHmac('sha256', secrets.advSecret).update(signed).digest();
  return {
    tag: 'iq',
    attrs: { from: SERVER_JID, type: 'set', id: options.id, xmlns: 'md', t: String(options.nowSeconds) },
    content: [{
      tag: 'pair-success',
      attrs: {},
      content: [
        { tag: 'device-identity', attrs: {}, content: proto.ADVSignedDeviceIdentityHMAC.encode({ details: signed, hmac }).finish() },
        { tag: 'platform', attrs: { name: 'android' } },
        { tag: 'device', attrs: { jid: deviceJid(account.phone, deviceId), lid: `${account.lid}:${deviceId}@lid` } },
        { tag: 'biz', attrs: { name: account.name } },
      ],
    }],
  };
}

/**
 * Checks the client's `pair-device-sign` answer: its device signature over
 * prefix 6,1 ‖ details ‖ its identity key ‖ the account key. Returns a reason when it is wrong.
 */
export function checkPairDeviceSign(answer: BinaryNode, account: Account, identityKey: Buffer): string | null {
  const sign = getBinaryNodeChild(answer, 'pair-device-sign');
  const identityNode = getBinaryNodeChild(sign, 'device-identity');
  if (!(identityNode?.content instanceof Uint8Array)) return 'pair-device-sign without a device-identity';
  let identity: proto.ADVSignedDeviceIdentity;
  try {
    identity = proto.ADVSignedDeviceIdentity.decode(identityNode.content);
  } catch {
    return 'pair-device-sign carries an undecodable device identity';
  }
  if (!identity.details || !identity.deviceSignature) return 'pair-device-sign without details or device signature';
  const message = Buffer.concat([ADV_DEVICE_SIG_PREFIX, identity.details, identityKey, account.identity.public]);
  return verify(identityKey, message, identity.deviceSignature) ? null : 'pair-device-sign signature does not verify';
}

import type { Logger } from 'pino';
import type { PairingWait } from './connection-host.js';
import { generateKeyPair, sharedKey } from './crypto.js';
import { deviceJid } from './jid.js';
import { deriveAdvSecret, normaliseLinkCode, openKeyBundle, primaryHelloNode, unwrapEphemeral, wrapEphemeral } from './linkcode.js';
import type { LinkCodeRequest } from './linkcode.js';
import { checkPairDeviceSign, pairSuccessNode, parsePairingQr, QrError } from './pairing.js';
import type { PairingSecrets } from './pairing.js';
import type { Account } from './state.js';
import { phoneOf, SandboxError } from './network-types.js';

/** What the phone's side of pairing needs from the network (SandboxNetwork builds it). */
export interface PairingContext {
  readonly logger: Logger;
  /** Devices waiting for their QR to be scanned, by pairing ref. */
  readonly waiting: ReadonlyMap<string, PairingWait>;
  readonly codeWaits: Map<string, PairingWait>;
  readonly codeAttempts: Set<PairingWait>;
  readonly counters: { pairings: number };
  now(): number;
  account(phone: string): Account | undefined;
  /** A new device account, with last seen visible to everyone. */
  newUser(phone: string, name: string): Account;
  forget(account: Account): void;
  freshPhone(): string;
  /** The device waits neither for a scan nor for a code any more. */
  cancelScan(wait: PairingWait): void;
  onChange(urgent: boolean): void;
  notify(): void;
}

export interface Paired {
  readonly phone: string;
  readonly jid: string;
  readonly device: number;
}

/**
 * "Scans" a pairing QR as the phone would: pairs the waiting device to the account `phone` (an
 * existing device account, or a new one with that number) or to a new account with a fresh number.
 * Resolves once the device confirmed (`pair-device-sign`) and was told to restart.
 */
export async function scanQr(context: PairingContext, input: { qr: string; phone?: string; name?: string }): Promise<Paired> {
  let qr;
  try {
    qr = parsePairingQr(input.qr);
  } catch (error) {
    if (error instanceof QrError) throw new SandboxError('invalid', error.message);
    throw error;
  }
  const wait = context.waiting.get(qr.ref);
  if (!wait) throw new SandboxError('not_found', 'no device is waiting with this QR: it expired, was scanned already, or its client disconnected');
  if (!wait.noiseKey.equals(qr.noiseKey)) throw new SandboxError('invalid', "the QR's noise key does not match the waiting device's");
  if (context.codeAttempts.has(wait)) throw new SandboxError('conflict', 'this device is being linked by its pairing code right now');
  const target = pairingAccount(context, input.phone === undefined ? context.freshPhone() : phoneOf(input.phone, 'phone'), input.name);
  return pair(context, wait, target, qr);
}

/**
 * The account a device is linked to: an existing device account (renamed when `name` is given),
 * or a new one. `created` says whether to forget it again if pairing fails.
 */
function pairingAccount(context: PairingContext, phone: string, name: string | undefined): { account: Account; created: boolean } {
  const existing = linkableAccount(context, phone);
  if (existing !== undefined) {
    if (name !== undefined) existing.name = name;
    return { account: existing, created: false };
  }
  return { account: context.newUser(phone, name ?? `Sandbox ${phone}`), created: true };
}

/**
 * The end both ways of linking share: the phone signs the device (`pair-success`, HMAC'd with the
 * adv secret it shares with the device), the device countersigns, and it is told to restart.
 */
async function pair(context: PairingContext, wait: PairingWait, target: { account: Account; created: boolean }, secrets: PairingSecrets): Promise<Paired> {
  const { account, created } = target;
  context.cancelScan(wait);
  const deviceId = account.nextDeviceId++;
  try {
    await wait.complete(
      (id) => pairSuccessNode({ id, account, deviceId, secrets, nowSeconds: Math.floor(context.now() / 1000) }),
      (answer) => checkPairDeviceSign(answer, account, wait.identityKey),
    );
  } catch (error) {
    if (created) context.forget(account);
    throw new SandboxError('conflict', `pairing failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  account.devices.set(deviceId, { id: deviceId, noiseKey: wait.noiseKey, identityKey: wait.identityKey, preKeyCount: 0, pairedAt: context.now() });
  context.counters.pairings++;
  context.onChange(true);
  context.logger.info({ phone: account.phone, device: deviceId }, 'device paired');
  return { phone: account.phone, jid: deviceJid(account.phone, deviceId), device: deviceId };
}

/** The account `phone`, if there is one, when devices may be linked to it; throws why not. */
function linkableAccount(context: PairingContext, phone: string): Account | undefined {
  const existing = context.account(phone);
  if (existing?.kind === 'contact') throw new SandboxError('conflict', `${phone} is a simulated contact; devices pair only to device accounts`);
  if (existing?.banned === true) throw new SandboxError('conflict', `account ${phone} is banned; unban it first with POST /api/sandbox/accounts/${phone}/unban`);
  return existing;
}

/** A device asked to be linked to `request.phone` by code (`companion_hello`). */
export function awaitCode(context: PairingContext, wait: PairingWait, request: LinkCodeRequest): { code: number; text: string } | null {
  const account = context.account(request.phone);
  // A simulated contact has no phone to type the code on; a banned account links nothing.
  if (account?.kind === 'contact') return { code: 404, text: 'item-not-found' };
  if (account?.banned === true) return { code: 403, text: 'forbidden' };
  for (const [phone, other] of context.codeWaits) if (other === wait) context.codeWaits.delete(phone);
  // The phone shows the latest request for its number; an older device's code no longer links.
  context.codeWaits.set(request.phone, wait);
  context.notify();
  return null;
}

/**
 * "Types the code on the phone" of account `phone` (Linked devices → Link with phone number): the
 * phone unwraps the waiting device's ephemeral key with the code, answers with its own
 * (`primary_hello`), opens the device's key bundle (`companion_finish`) and derives the adv secret
 * from them, then links the device as a QR scan does. The code is checked by the cryptography
 * alone: a wrong one leaves the two sides with different keys, the bundle does not open, and the
 * device is not linked (it keeps waiting, as on WhatsApp, so the right code can still be typed).
 * The account is created if the number has none yet.
 */
export async function enterLinkCode(context: PairingContext, input: { phone: string; code: string; name?: string }): Promise<Paired> {
  const phone = phoneOf(input.phone, 'phone');
  const code = normaliseLinkCode(input.code);
  if (code === null) {
    throw new SandboxError('invalid', `code must be the 8 characters the device showed (letters and digits, e.g. "ABCD-EFGH"; no 0, I, O or U), got "${input.code}"`);
  }
  // Said first: a code request for such a number was refused, and "request a code" would not help.
  linkableAccount(context, phone);
  const wait = context.codeWaits.get(phone);
  const request = wait?.linkCode() ?? null;
  if (wait === undefined || request === null) {
    throw new SandboxError('not_found', `no device is waiting to be linked to ${phone} by code: request a code for this number first (POST /api/{session}/auth/request-code {"phoneNumber":"${phone}"}, or Baileys' requestPairingCode) and enter it while the device waits`);
  }
  if (context.codeAttempts.has(wait)) throw new SandboxError('conflict', `a code for ${phone} is being checked already; wait for that attempt to end`);
  context.codeAttempts.add(wait);
  try {
    const target = pairingAccount(context, phone, input.name);
    let secrets: PairingSecrets;
    try {
      secrets = await exchangeLinkCode(context, wait, request, target.account, code);
    } catch (error) {
      // Unless a scan linked a device to it meanwhile, the account made for this attempt goes with it.
      if (target.created && target.account.devices.size === 0) context.forget(target.account);
      throw error;
    }
    return await pair(context, wait, target, secrets);
  } finally {
    context.codeAttempts.delete(wait);
  }
}

/** The phone's half of the code exchange (see linkcode.ts); the device's identity key and adv secret, or why not. */
async function exchangeLinkCode(context: PairingContext, wait: PairingWait, request: LinkCodeRequest, account: Account, code: string): Promise<PairingSecrets> {
  const wrongCode = (): SandboxError =>
    new SandboxError('rejected', `wrong code: ${code} is not the code the device waiting for ${account.phone} shows, so the phone could not link it (as WhatsApp says "couldn't link device"); the device keeps waiting: enter the code it shows`);
  const companionEphemeral = await unwrapEphemeral(request.wrappedEphemeral, code);
  const primaryEphemeral = generateKeyPair();
  const wrapped = await wrapEphemeral(primaryEphemeral.public, code);
  let finish;
  try {
    finish = await wait.primaryHello(request, (id) =>
      primaryHelloNode({ id, ref: request.ref, wrappedEphemeral: wrapped, primaryIdentity: account.identity.public, nowSeconds: Math.floor(context.now() / 1000) }));
  } catch (error) {
    throw new SandboxError('conflict', `linking by code failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  let ephemeralShared: Buffer;
  try {
    ephemeralShared = sharedKey(primaryEphemeral.private, companionEphemeral);
  } catch {
    // A wrong code can unwrap to a point X25519 refuses (all-zero result): that is a wrong code too.
    throw wrongCode();
  }
  const bundle = openKeyBundle(finish.wrappedKeyBundle, ephemeralShared);
  if (bundle === null) throw wrongCode();
  if (!bundle.primaryIdentity.equals(account.identity.public)) {
    throw new SandboxError('rejected', "the device's key bundle names another phone's identity key; it was not linked");
  }
  if (!bundle.companionIdentity.equals(finish.companionIdentity) || !bundle.companionIdentity.equals(wait.identityKey)) {
    throw new SandboxError('rejected', "the device's key bundle carries an identity key other than the one it registered with; it was not linked");
  }
  const identityShared = sharedKey(account.identity.private, bundle.companionIdentity);
  return { identityKey: wait.identityKey, advSecret: deriveAdvSecret(ephemeralShared, identityShared, bundle.advRandom) };
}

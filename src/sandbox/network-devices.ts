import type { Logger } from 'pino';
import { deviceRemovedNode, failureNode } from './closes.js';
import type { FailureReason } from './closes.js';
import { deviceJid } from './jid.js';
import type { Account, Device, Peer } from './state.js';
import type { AccountInfo } from './network-types.js';
import { phoneOf, SandboxError } from './network-types.js';

/** What admitting, dropping, unlinking and banning devices need from the network (SandboxNetwork builds it). */
export interface DevicesContext {
  readonly logger: Logger;
  readonly revokedNoiseKeys: Set<string>;
  now(): number;
  account(phone: string): Account | undefined;
  /** A new device account, with last seen visible to everyone. */
  newUser(phone: string, name: string): Account;
  peersOf(phone: string): Iterable<Peer>;
  onChange(urgent: boolean): void;
  notify(): void;
}

/**
 * A known device logs in when its noise key matches the one it paired with. A device the network
 * has never seen (the sandbox restarted; credentials from elsewhere) is adopted: the sandbox
 * keeps no state across restarts, and refusing would force every session to pair again.
 */
export function authenticate(context: DevicesContext, login: { phone: string; deviceId: number; noiseKey: Buffer; pushName: string | null }): { account: Account; device: Device } | { refused: string; failure: FailureReason } {
  let account = context.account(login.phone);
  if (account?.kind === 'contact') return { refused: `${login.phone} is a simulated contact, not a device account`, failure: 401 };
  if (context.revokedNoiseKeys.has(login.noiseKey.toString('hex'))) return { refused: 'this device was removed from its account', failure: 401 };
  // Device 0 is the phone itself, never a companion. Baileys logs in as it with the bare JID that
  // requestPairingCode writes into creds.me before anything is linked: adopting that would link a
  // device without its code.
  if (login.deviceId === 0) return { refused: 'device 0 is the phone itself; a companion logs in with the device id it was linked as', failure: 401 };
  // A banned account is refused before anything else about its devices: WhatsApp answers 403.
  if (account?.banned === true) return { refused: `account ${login.phone} is banned`, failure: 403 };
  if (!account) {
    account = context.newUser(login.phone, login.pushName ?? `Sandbox ${login.phone}`);
    context.logger.info({ phone: login.phone }, 'adopted an unknown account at login');
  }
  let device = account.devices.get(login.deviceId);
  if (!device) {
    device = { id: login.deviceId, noiseKey: login.noiseKey, identityKey: null, preKeyCount: 0, pairedAt: context.now() };
    account.devices.set(device.id, device);
    account.nextDeviceId = Math.max(account.nextDeviceId, device.id + 1);
    context.logger.info({ phone: login.phone, device: login.deviceId }, 'adopted an unknown device at login');
  } else if (!device.noiseKey.equals(login.noiseKey)) {
    return { refused: 'noise key differs from the one the device paired with', failure: 401 };
  }
  return { account, device };
}

/** Closes every live connection of `phone` abruptly (no close frame), as a network fault would. */
export function dropConnections(context: DevicesContext, phone: string): { dropped: number } {
  const number = phoneOf(phone, 'phone');
  if (!context.account(number)) throw new SandboxError('not_found', `no account with phone ${number}`);
  const live = [...context.peersOf(number)];
  for (const peer of live) peer.drop('dropped through the admin API');
  return { dropped: live.length };
}

function userAccount(context: DevicesContext, phone: string): Account {
  const number = phoneOf(phone, 'phone');
  const account = context.account(number);
  if (!account) throw new SandboxError('not_found', `no account with phone ${number}; GET /api/sandbox/accounts lists them`);
  if (account.kind !== 'user') throw new SandboxError('conflict', `${number} is a simulated contact: it has no devices or connections`);
  return account;
}

export function unlinkDevice(context: DevicesContext, account: Account, deviceId: number, except?: Peer): boolean {
  const device = account.devices.get(deviceId);
  if (!device) return false;
  account.devices.delete(deviceId);
  context.revokedNoiseKeys.add(device.noiseKey.toString('hex'));
  for (const peer of [...context.peersOf(account.phone)]) {
    if (peer.device.id === deviceId && peer !== except) peer.end(deviceRemovedNode(), 'the device was removed from its account');
  }
  context.logger.info({ phone: account.phone, device: deviceId }, 'device removed');
  context.onChange(true);
  context.notify();
  return true;
}

/**
 * The phone unlinks a companion device (Linked devices → Log out): its live streams end with a
 * device-removed stream error (Baileys: 401 loggedOut), and the device is forgotten, so its
 * credentials are refused at the next login with `<failure reason=401>`.
 */
export function removeDevice(context: DevicesContext, phone: string, deviceId: number): { phone: string; device: number; closed: number } {
  const account = userAccount(context, phone);
  if (!Number.isInteger(deviceId) || deviceId < 1) throw new SandboxError('invalid', `device must be a linked device id (1 or more), got ${deviceId}`);
  const closed = [...context.peersOf(account.phone)].filter((peer) => peer.device.id === deviceId).length;
  if (!unlinkDevice(context, account, deviceId)) {
    const known = [...account.devices.keys()];
    throw new SandboxError('not_found', `account ${account.phone} has no device ${deviceId}; its devices: ${known.length === 0 ? 'none' : known.join(', ')}`);
  }
  return { phone: account.phone, device: deviceId, closed };
}

/**
 * Bans an account as WhatsApp does: every live stream gets `<failure reason=403>` and closes, and
 * every later login is refused with the same (Baileys: 403 forbidden), until `unban`. Banning a
 * banned account changes nothing.
 */
export function ban(context: DevicesContext, phone: string): { phone: string; banned: true; closed: number } {
  const account = userAccount(context, phone);
  account.banned = true;
  const live = [...context.peersOf(account.phone)];
  for (const peer of live) peer.end(failureNode(403), 'the account was banned');
  context.logger.info({ phone: account.phone, closed: live.length }, 'account banned');
  context.onChange(true);
  context.notify();
  return { phone: account.phone, banned: true, closed: live.length };
}

/** Lifts a ban: the account's devices log in again with their credentials. */
export function unban(context: DevicesContext, phone: string): { phone: string; banned: false } {
  const account = userAccount(context, phone);
  account.banned = false;
  context.onChange(true);
  context.notify();
  return { phone: account.phone, banned: false };
}

/** An account as the admin API shows it. */
export function describe(context: Pick<DevicesContext, 'peersOf'>, account: Account): AccountInfo {
  return {
    phone: account.phone,
    id: `${account.phone}@c.us`,
    lid: `${account.lid}@lid`,
    kind: account.kind,
    name: account.name,
    presence: account.online ? 'online' : 'offline',
    lastSeen: account.lastSeen,
    lastSeenPrivacy: account.lastSeenPrivacy,
    banned: account.banned,
    devices: [...account.devices.values()].map((device) => ({ id: device.id, jid: deviceJid(account.phone, device.id), preKeys: device.preKeyCount })),
    connections: [...context.peersOf(account.phone)].map((peer) => ({
      id: peer.id,
      device: peer.device.id,
      available: peer.available,
      subscriptions: [...peer.subscriptions.values()],
    })),
  };
}

import type { BinaryNode } from 'baileys';
import type { KeyPair } from './crypto.js';

/** Who may see an account's last-seen time. `nobody` makes unavailable presence carry `last="deny"`. */
export type LastSeenPrivacy = 'everyone' | 'nobody';
export const LAST_SEEN_PRIVACIES: readonly LastSeenPrivacy[] = ['everyone', 'nobody'];

/** A companion device linked to an account (device 0 is the phone, which the sandbox plays itself). */
export interface Device {
  readonly id: number;
  /** The device's Noise static key (`creds.noiseKey.public`): how a reconnecting device is recognised. */
  readonly noiseKey: Buffer;
  /** The device's Signal identity key, from pairing; null for a device adopted at login. */
  readonly identityKey: Buffer | null;
  /** Pre-keys the device has uploaded, so only its first login pays for the 812-key upload. */
  preKeyCount: number;
  readonly pairedAt: number;
}

/**
 * A WhatsApp account of the sandbox network. `user` accounts have real clients (paired devices);
 * `contact` accounts are simulated: the sandbox acts for them through the admin API and records
 * what they receive.
 */
export interface Account {
  readonly phone: string;
  readonly lid: string;
  readonly kind: 'user' | 'contact';
  name: string;
  lastSeenPrivacy: LastSeenPrivacy;
  /** The account's identity key (the phone's), which signs the identity of each paired device. */
  readonly identity: KeyPair;
  readonly devices: Map<number, Device>;
  nextDeviceId: number;
  /** Global presence: see `presence.ts` for how it is derived. */
  online: boolean;
  /** Unix seconds of the last transition to unavailable; null if never seen online. */
  lastSeen: number | null;
  /** Banned through the admin API: logins and live streams are refused with `<failure reason=403>`. */
  banned: boolean;
  /** For simulated contacts only: what reached this contact, oldest first (bounded). */
  readonly received: ReceivedStanza[];
  readonly createdAt: number;
}

export interface Group {
  readonly id: string;
  readonly jid: string;
  readonly subject: string;
  /** Phone numbers of the participants. */
  readonly participants: readonly string[];
  readonly creation: number;
}

/** A presence or chat-state stanza as a simulated contact received it. */
export interface ReceivedStanza {
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly kind: 'presence' | 'chatstate';
  /** Presence: available / unavailable; chat state: composing / recording / paused. */
  readonly state: 'available' | 'unavailable' | 'composing' | 'recording' | 'paused';
  /** The chat the stanza belongs to: the sender for direct ones, the group for group ones. */
  readonly from: string;
  /** For group chat states: who is typing. */
  readonly participant?: string;
  /** For unavailable presence: unix seconds or "deny". */
  readonly last?: string;
  /** The stanza as it went over the wire, in WhatsApp's XML-ish debug form. */
  readonly stanza: string;
}

/** A live, logged-in client connection, as the presence rules see it. */
export interface Peer {
  readonly id: number;
  readonly account: Account;
  readonly device: Device;
  /** What this connection last declared (`<presence type=available|unavailable>`); false until it does. */
  available: boolean;
  /**
   * Accounts this connection subscribed to (phone → the JID form it used, echoed in `from`). Change
   * it only through `NetworkView.subscriptions`, which keeps the reverse index in step.
   */
  readonly subscriptions: Map<string, string>;
  readonly connectedAt: number;
  send(node: BinaryNode): void;
  /** Sends a node already encoded with `encodeBinaryNode` (fan-outs encode once for all receivers). */
  sendEncoded(encoded: Uint8Array): void;
  /** Ends the connection abruptly, as a network fault would (no close frame). */
  drop(reason: string): void;
  /** Sends `node` (a stream error or failure), then closes the connection cleanly. */
  end(node: BinaryNode, reason: string): void;
}

/** Who is subscribed to whose presence, both ways (implemented in subscriptions.ts). */
export interface Subscriptions {
  /** `peer` subscribes to `target` (a phone number), which it names by `form`; a repeat updates the form. */
  add(peer: Peer, target: string, form: string): void;
  remove(peer: Peer, target: string): void;
  /** Drops every subscription of `peer` (its connection closed). */
  removeAll(peer: Peer): void;
  /** The peers subscribed to `target`, available or not. */
  subscribersOf(target: string): Iterable<Peer>;
}

/**
 * What the presence and chat-state rules need from the network, kept narrow to avoid an import cycle.
 * Lookups are indexed: one login or presence change must not cost a scan of every account or connection.
 */
export interface NetworkView {
  /** Milliseconds since the epoch. */
  now(): number;
  account(phone: string): Account | undefined;
  /** The account with this LID (the user part, without `@lid`). */
  accountByLid(lid: string): Account | undefined;
  /** The simulated contacts. */
  contacts(): Iterable<Account>;
  group(id: string): Group | undefined;
  /** The groups `phone` takes part in. */
  groupsOf(phone: string): Iterable<Group>;
  peersOf(phone: string): Iterable<Peer>;
  readonly subscriptions: Subscriptions;
  /** Records a stanza a simulated contact received (bounded log). */
  record(contact: Account, entry: ReceivedStanza): void;
  /**
   * Unlinks a companion device: it is forgotten, its noise key can no longer log in, and its live
   * connections other than `except` end with a device-removed stream error. False when unknown.
   */
  removeDevice(account: Account, deviceId: number, except?: Peer): boolean;
}

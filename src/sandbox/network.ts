import type { Logger } from 'pino';
import { binaryNodeToString } from 'baileys';
import type { ChatState, ChatStates } from './chatstate.js';
import { createChatStates } from './chatstate.js';
import { replacedNode } from './closes.js';
import type { ConnectionHost, PairingWait } from './connection-host.js';
import { generateKeyPair } from './crypto.js';
import { groupJid, parseJid, pnJid } from './jid.js';
import { peerClosed, presenceNode, resolveUser, setOnline } from './presence.js';
import { createSubscriptions } from './subscriptions.js';
import type { Account, Group, LastSeenPrivacy, NetworkView, Peer, ReceivedStanza } from './state.js';
import { LAST_SEEN_PRIVACIES } from './state.js';
import { accountsOf, toSnapshot } from './persist.js';
import type { WorldSnapshot } from './persist.js';
import { buildCertChain, SERVER_STATIC_KEY_PAIR } from './trust.js';
import { authenticate, ban, describe, dropConnections, removeDevice, unban, unlinkDevice } from './network-devices.js';
import type { DevicesContext } from './network-devices.js';
import { awaitCode, enterLinkCode, scanQr } from './network-pairing.js';
import type { PairingContext } from './network-pairing.js';
import { CONTACT_PRESENCES, phoneOf, SandboxError } from './network-types.js';
import type { AccountInfo, ContactPresence, NetworkOptions, SandboxStats } from './network-types.js';
import { systemClock } from '../clock.js';

export { CONTACT_PRESENCES, SandboxError } from './network-types.js';
export type { AccountInfo, ContactPresence, NetworkOptions, SandboxStats } from './network-types.js';

const FIRST_PHONE = 15550100001;
const FIRST_LID = 100000000000001;
const RECEIVED_LIMIT = 1000;

/**
 * The sandbox's WhatsApp network: accounts (with paired devices or simulated), groups, live
 * connections, devices waiting to be paired. State lives in memory for the life of the process;
 * a device that logs in with credentials the network does not know is adopted (see `authenticate`
 * in network-devices.ts). The admin API calls the async methods; tests may call them directly.
 */
export class SandboxNetwork {
  readonly autoPair: boolean;
  readonly chatStateTtlMs: number;
  private readonly accountsByPhone = new Map<string, Account>();
  private readonly accountsByLid = new Map<string, Account>();
  private readonly contacts = new Set<Account>();
  private readonly groupsById = new Map<string, Group>();
  private readonly peers = new Map<string, Set<Peer>>();
  private readonly waiting = new Map<string, PairingWait>();
  /** Devices waiting for their pairing code to be typed on the phone, by the number they asked for. */
  private readonly codeWaits = new Map<string, PairingWait>();
  /** Devices whose code is being checked right now: one attempt at a time per device. */
  private readonly codeAttempts = new Set<PairingWait>();
  private readonly watchers = new Set<() => void>();
  /** Noise keys of removed devices (hex): they never log in again, adoption notwithstanding. */
  private readonly revokedNoiseKeys = new Set<string>();
  private readonly logger: Logger;
  private readonly chatStates: ChatStates;
  private readonly now: () => number;
  private phoneCounter = FIRST_PHONE;
  private lidCounter = FIRST_LID;
  private groupCounter = 1;
  private readonly counters = { logins: 0, closes: 0, pairings: 0, failures: 0 };
  private readonly onChange: (urgent: boolean) => void;
  /** What connections use; kept as a field so `acceptConnection` gets one stable object. */
  readonly host: ConnectionHost;
  readonly view: NetworkView;
  private readonly pairing: PairingContext;
  private readonly devices: DevicesContext;

  constructor(options: NetworkOptions) {
    this.logger = options.logger;
    this.autoPair = options.autoPair;
    this.chatStateTtlMs = options.chatStateTtlMs;
    this.now = (): number => (options.clock ?? systemClock).now();
    this.onChange = options.onChange ?? (() => undefined);
    if (options.world !== undefined) this.load(options.world);
    this.view = {
      now: () => this.now(),
      account: (phone) => this.accountsByPhone.get(phone),
      accountByLid: (lid) => this.accountsByLid.get(lid),
      contacts: () => this.contacts,
      group: (id) => this.groupsById.get(id),
      groupsOf: (phone) => [...this.groupsById.values()].filter((group) => group.participants.includes(phone)),
      peersOf: (phone) => this.peers.get(phone) ?? [],
      subscriptions: createSubscriptions(),
      record: (contact, entry) => {
        contact.received.push(entry);
        if (contact.received.length > RECEIVED_LIMIT) contact.received.splice(0, contact.received.length - RECEIVED_LIMIT);
      },
      removeDevice: (account, deviceId, except) => unlinkDevice(this.devices, account, deviceId, except),
    };
    this.chatStates = createChatStates(this.view, options.chatStateTtlMs);
    this.host = {
      view: this.view,
      chatStates: this.chatStates,
      logger: this.logger,
      certChain: buildCertChain(SERVER_STATIC_KEY_PAIR.public, Math.floor(this.now() / 1000)),
      maxFrameBytes: options.maxFrameBytes ?? 1 << 20,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 20_000,
      authenticate: (login) => authenticate(this.devices, login),
      attach: (peer) => {
        let set = this.peers.get(peer.account.phone);
        if (!set) this.peers.set(peer.account.phone, (set = new Set()));
        // One stream per device: a second login of the same device takes over, and WhatsApp tells
        // the old stream so (Baileys: 440 connectionReplaced). The new one is attached first, so
        // the account never looks as if it lost every connection in between.
        const replaced = [...set].filter((other) => other.device.id === peer.device.id);
        set.add(peer);
        this.counters.logins++;
        for (const old of replaced) old.end(replacedNode(), `replaced by connection ${peer.id}, a new login of the same device`);
        this.notify();
      },
      detach: (peer) => {
        this.counters.closes++;
        this.peers.get(peer.account.phone)?.delete(peer);
        peerClosed(this.view, peer);
        this.notify();
      },
      changed: () => this.notify(),
      failed: () => {
        this.counters.failures++;
      },
      awaitScan: (wait) => {
        for (const ref of wait.refs) this.waiting.set(ref, wait);
      },
      awaitCode: (wait, request) => awaitCode(this.pairing, wait, request),
      cancelScan: (wait) => {
        for (const ref of wait.refs) if (this.waiting.get(ref) === wait) this.waiting.delete(ref);
        for (const [phone, other] of this.codeWaits) if (other === wait) this.codeWaits.delete(phone);
      },
    };
    const shared = {
      logger: this.logger,
      now: () => this.now(),
      account: (phone: string) => this.accountsByPhone.get(phone),
      newUser: (phone: string, name: string) => this.newAccount('user', phone, name, 'everyone'),
      onChange: (urgent: boolean) => this.onChange(urgent),
      notify: () => this.notify(),
    };
    this.devices = { ...shared, revokedNoiseKeys: this.revokedNoiseKeys, peersOf: (phone) => this.view.peersOf(phone) };
    this.pairing = {
      ...shared,
      waiting: this.waiting,
      codeWaits: this.codeWaits,
      codeAttempts: this.codeAttempts,
      counters: this.counters,
      forget: (account) => this.forget(account),
      freshPhone: () => this.freshPhone(),
      cancelScan: (wait) => this.host.cancelScan(wait),
    };
  }

  private load(world: WorldSnapshot): void {
    for (const account of accountsOf(world)) {
      this.accountsByPhone.set(account.phone, account);
      this.accountsByLid.set(account.lid, account);
      if (account.kind === 'contact') this.contacts.add(account);
    }
    for (const group of world.groups) this.groupsById.set(group.id, group);
    for (const key of world.revokedNoiseKeys) this.revokedNoiseKeys.add(key);
    this.phoneCounter = world.counters.phone;
    this.lidCounter = world.counters.lid;
    this.groupCounter = world.counters.group;
  }

  /** What the network keeps, for saving (see persist.ts). */
  snapshot(): WorldSnapshot {
    return toSnapshot({
      accounts: this.accountsByPhone.values(),
      groups: this.groupsById.values(),
      revokedNoiseKeys: this.revokedNoiseKeys,
      counters: { phone: this.phoneCounter, lid: this.lidCounter, group: this.groupCounter },
    }, this.now());
  }

  private newAccount(kind: Account['kind'], phone: string, name: string, lastSeenPrivacy: LastSeenPrivacy): Account {
    const account: Account = {
      phone,
      lid: String(this.lidCounter++),
      kind,
      name,
      lastSeenPrivacy,
      identity: generateKeyPair(),
      devices: new Map(),
      nextDeviceId: 1,
      online: false,
      lastSeen: null,
      banned: false,
      received: [],
      createdAt: this.now(),
    };
    this.accountsByPhone.set(phone, account);
    this.accountsByLid.set(account.lid, account);
    if (kind === 'contact') this.contacts.add(account);
    return account;
  }

  /** Removes an account that should never have been created (a pairing that failed). */
  private forget(account: Account): void {
    this.accountsByPhone.delete(account.phone);
    this.accountsByLid.delete(account.lid);
    this.contacts.delete(account);
    this.onChange(false);
  }

  private freshPhone(): string {
    while (this.accountsByPhone.has(String(this.phoneCounter))) this.phoneCounter++;
    return String(this.phoneCounter++);
  }

  /** Creates a simulated contact: an account with no client, which the sandbox acts for. */
  async createContact(input: { phone: string; name?: string; lastSeenPrivacy?: LastSeenPrivacy }): Promise<AccountInfo> {
    const phone = phoneOf(input.phone, 'phone');
    if (this.accountsByPhone.has(phone)) throw new SandboxError('conflict', `an account with phone ${phone} exists already`);
    const privacy = input.lastSeenPrivacy ?? 'everyone';
    if (!LAST_SEEN_PRIVACIES.includes(privacy)) {
      throw new SandboxError('invalid', `lastSeenPrivacy must be one of ${LAST_SEEN_PRIVACIES.join(', ')}`);
    }
    const account = this.newAccount('contact', phone, input.name ?? `Contact ${phone}`, privacy);
    this.onChange(true);
    return Promise.resolve(describe(this.devices, account));
  }

  private contact(phone: string): Account {
    const account = this.accountsByPhone.get(phoneOf(phone, 'phone'));
    if (!account) throw new SandboxError('not_found', `no contact with phone ${phone}; create it with POST /api/sandbox/contacts`);
    if (account.kind !== 'contact') throw new SandboxError('conflict', `${phone} is a device account, not a simulated contact`);
    return account;
  }

  /**
   * A contact goes online / offline, or types, records or pauses in `chatId` (a user as
   * `<phone>@c.us`, or a group it belongs to).
   */
  async setContactPresence(phone: string, input: { presence: ContactPresence; chatId?: string }): Promise<void> {
    const account = this.contact(phone);
    if (!CONTACT_PRESENCES.includes(input.presence)) {
      throw new SandboxError('invalid', `presence must be one of ${CONTACT_PRESENCES.join(', ')}`);
    }
    if (input.presence === 'online' || input.presence === 'offline') {
      setOnline(this.view, account, input.presence === 'online');
      this.notify();
      return Promise.resolve();
    }
    if (input.chatId === undefined) throw new SandboxError('invalid', `presence "${input.presence}" needs a chatId (a "<phone>@c.us" or a "<id>@g.us")`);
    const chat = this.chatJid(input.chatId);
    const state: ChatState = input.presence === 'typing' ? 'composing' : input.presence;
    if (!this.chatStates.send(account, chat, state)) {
      throw new SandboxError('not_found', `chat ${input.chatId} is not a sandbox account or a group this contact is in`);
    }
    return Promise.resolve();
  }

  private chatJid(chatId: string): string {
    const parsed = parseJid(chatId);
    if (parsed?.kind === 'group') return groupJid(parsed.id);
    if (parsed?.kind === 'pn') return pnJid(parsed.user);
    if (parsed?.kind === 'lid') return chatId;
    throw new SandboxError('invalid', `chatId must look like "<phone>@c.us" or "<id>@g.us", got "${chatId}"`);
  }

  /** The presence and chat-state stanzas a contact received, oldest first. */
  async received(phone: string): Promise<readonly ReceivedStanza[]> {
    return Promise.resolve([...this.contact(phone).received]);
  }

  /** Creates a group of existing accounts; presence and chat states fan out to its participants. */
  async createGroup(input: { subject: string; participants: readonly string[] }): Promise<{ id: string }> {
    const subject = input.subject.trim();
    if (subject === '') throw new SandboxError('invalid', 'subject must not be empty');
    const phones = [...new Set(input.participants.map((p) => phoneOf(p, 'each participant')))];
    if (phones.length < 2) throw new SandboxError('invalid', 'a group needs at least two distinct participants');
    const missing = phones.filter((phone) => !this.accountsByPhone.has(phone));
    if (missing.length > 0) {
      throw new SandboxError('not_found', `not sandbox accounts: ${missing.join(', ')} (create contacts or pair devices first)`);
    }
    const id = `1203630${String(this.groupCounter++).padStart(11, '0')}`;
    this.groupsById.set(id, { id, jid: groupJid(id), subject, participants: phones, creation: Math.floor(this.now() / 1000) });
    this.onChange(true);
    return Promise.resolve({ id: groupJid(id) });
  }

  /** "Scans" a pairing QR as the phone would (see `scanQr` in network-pairing.ts). */
  async scan(input: { qr: string; phone?: string; name?: string }): Promise<{ phone: string; jid: string; device: number }> {
    return scanQr(this.pairing, input);
  }

  /** "Types the code on the phone" of account `phone` (see `enterLinkCode` in network-pairing.ts). */
  async enterLinkCode(input: { phone: string; code: string; name?: string }): Promise<{ phone: string; jid: string; device: number }> {
    return enterLinkCode(this.pairing, input);
  }

  /** Counters since the network started (a snapshot). */
  stats(): SandboxStats {
    return { ...this.counters };
  }

  /** Every account with its devices, live connections and presence. */
  async accounts(): Promise<AccountInfo[]> {
    return Promise.resolve([...this.accountsByPhone.values()].map((account) => describe(this.devices, account)));
  }

  /** Closes every live connection of `phone` abruptly (see network-devices.ts, as the three after it). */
  async drop(phone: string): Promise<{ dropped: number }> {
    return Promise.resolve(dropConnections(this.devices, phone));
  }

  /** The phone unlinks a companion device (Linked devices → Log out). */
  async removeDevice(phone: string, deviceId: number): Promise<{ phone: string; device: number; closed: number }> {
    return Promise.resolve(removeDevice(this.devices, phone, deviceId));
  }

  /** Bans an account as WhatsApp does, until `unban`. */
  async ban(phone: string): Promise<{ phone: string; banned: true; closed: number }> {
    return Promise.resolve(ban(this.devices, phone));
  }

  /** Lifts a ban: the account's devices log in again with their credentials. */
  async unban(phone: string): Promise<{ phone: string; banned: false }> {
    return Promise.resolve(unban(this.devices, phone));
  }

  /** The current presence stanza of `jid` as a subscriber would get it (for tests and debugging). */
  presenceOf(jid: string): string | null {
    const account = resolveUser(this.view, jid);
    return account ? binaryNodeToString(presenceNode(account, jid)) : null;
  }

  private notify(): void {
    // Presence, last seen, logins that adopt a device: saved soon, many changes to one write.
    this.onChange(false);
    for (const watcher of [...this.watchers]) watcher();
  }

  /**
   * Resolves once `condition` holds for the accounts (checked now and after every change of
   * connections or presence); rejects after `timeoutMs` (default 5 s). For tests: a client's
   * frames race in-process admin calls, so wait here for the sandbox to have applied them.
   */
  async until(condition: (accounts: AccountInfo[]) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const check = () => condition([...this.accountsByPhone.values()].map((account) => describe(this.devices, account)));
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const watcher = () => {
        if (!check()) return;
        this.watchers.delete(watcher);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(watcher);
        reject(new Error(`sandbox: timed out after ${timeoutMs} ms waiting until ${what}`));
      }, timeoutMs);
      this.watchers.add(watcher);
    });
  }

  /**
   * Resolves once a device waits for its pairing code to be typed for `phone`, having asked for a
   * code `times` times on its connection (default 1); rejects after `timeoutMs`. For tests: Baileys'
   * requestPairingCode returns as soon as its request is sent, so an in-process `enterLinkCode`
   * right after it can overtake the request.
   */
  async untilCodeRequested(phone: string, options: { times?: number; timeoutMs?: number } = {}): Promise<void> {
    const number = phoneOf(phone, 'phone');
    const times = options.times ?? 1;
    await this.until(() => {
      const request = this.codeWaits.get(number)?.linkCode();
      return request?.phone === number && request.sequence >= times;
    }, `a device asked to link to ${number} by code (${times} time${times === 1 ? '' : 's'})`, options.timeoutMs);
  }

  /** Whether the account `phone` has a live connection and all of its connections are (un)available. */
  static connected(accounts: readonly AccountInfo[], phone: string, available: boolean): boolean {
    const connections = accounts.find((account) => account.phone === phone)?.connections ?? [];
    return connections.length > 0 && connections.every((connection) => connection.available === available);
  }

  /** Stops expiry timers and drops every connection (the server closes its sockets itself). */
  shutdown(): void {
    this.chatStates.clear();
    for (const set of this.peers.values()) for (const peer of [...set]) peer.drop('sandbox shutting down');
  }
}

import type { Logger } from 'pino';
import { binaryNodeToString } from 'baileys';
import type { ChatState, ChatStates } from './chatstate.js';
import { createChatStates } from './chatstate.js';
import { deviceRemovedNode, failureNode, replacedNode } from './closes.js';
import type { FailureReason } from './closes.js';
import type { ConnectionHost, PairingWait } from './connection.js';
import { generateKeyPair, sharedKey } from './crypto.js';
import { deviceJid, groupJid, parseJid, pnJid } from './jid.js';
import { deriveAdvSecret, normaliseLinkCode, openKeyBundle, primaryHelloNode, unwrapEphemeral, wrapEphemeral } from './linkcode.js';
import type { LinkCodeRequest } from './linkcode.js';
import { checkPairDeviceSign, pairSuccessNode, parsePairingQr, QrError } from './pairing.js';
import type { PairingSecrets } from './pairing.js';
import { peerClosed, presenceNode, resolveUser, setOnline } from './presence.js';
import { createSubscriptions } from './subscriptions.js';
import type { Account, Device, Group, LastSeenPrivacy, NetworkView, Peer, ReceivedStanza } from './state.js';
import { LAST_SEEN_PRIVACIES } from './state.js';
import { accountsOf, toSnapshot } from './persist.js';
import type { WorldSnapshot } from './persist.js';
import { buildCertChain, SERVER_STATIC_KEY_PAIR } from './trust.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/**
 * An admin request that cannot be done; `kind` picks the HTTP status in the admin routes.
 * `rejected`: well-formed, but the phone refuses it (a wrong pairing code).
 */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(readonly kind: 'invalid' | 'not_found' | 'conflict' | 'rejected', message: string) {
    super(message);
  }
}

/** What a contact can do through the admin API. */
export type ContactPresence = 'online' | 'offline' | 'typing' | 'recording' | 'paused';
export const CONTACT_PRESENCES: readonly ContactPresence[] = ['online', 'offline', 'typing', 'recording', 'paused'];

export interface AccountInfo {
  readonly phone: string;
  readonly id: string;
  readonly lid: string;
  readonly kind: 'user' | 'contact';
  readonly name: string;
  readonly presence: 'online' | 'offline';
  /** Unix seconds, or null if never seen online. */
  readonly lastSeen: number | null;
  readonly lastSeenPrivacy: LastSeenPrivacy;
  /** Banned through the admin API: every login and live stream is refused with 403. */
  readonly banned: boolean;
  readonly devices: readonly { readonly id: number; readonly jid: string; readonly preKeys: number }[];
  readonly connections: readonly { readonly id: number; readonly device: number; readonly available: boolean; readonly subscriptions: readonly string[] }[];
}

/**
 * Counters since the network started, for benchmarks and tests: a login or a close more than the
 * clients asked for is a reconnect, which wall-clock figures alone do not show.
 */
export interface SandboxStats {
  /** Connections that logged in as a known (or adopted) device. */
  readonly logins: number;
  /** Logged-in connections that ended, for whatever reason. */
  readonly closes: number;
  /** Devices paired by a scanned QR. */
  readonly pairings: number;
  /** Connections the sandbox closed itself: protocol problems, handshake or pairing timeouts, refused logins. */
  readonly failures: number;
}

export interface NetworkOptions {
  readonly logger: Logger;
  /** Composing / recording not refreshed within this time reaches receivers as paused. */
  readonly chatStateTtlMs: number;
  /** Reported to clients (GET /api/sandbox/info): whether they should have their QR scanned automatically. */
  readonly autoPair: boolean;
  readonly maxFrameBytes?: number;
  readonly handshakeTimeoutMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: Pick<Clock, 'now'>;
  /** A saved world to start from (persist.ts); default: an empty network. */
  readonly world?: WorldSnapshot;
  /**
   * Called after every change of what the world keeps: `urgent` for admin changes, which must be
   * saved before they are answered; otherwise (presence, logins, pre-keys) a save may be coalesced.
   */
  readonly onChange?: (urgent: boolean) => void;
}

const PHONE = /^\d{7,15}$/;
const FIRST_PHONE = 15550100001;
const FIRST_LID = 100000000000001;
const RECEIVED_LIMIT = 1000;

function phoneOf(chatIdOrPhone: string, what: string): string {
  if (PHONE.test(chatIdOrPhone)) return chatIdOrPhone;
  const parsed = parseJid(chatIdOrPhone);
  if (parsed?.kind === 'pn') return parsed.user;
  throw new SandboxError('invalid', `${what} must be a phone number or "<phone>@c.us", got "${chatIdOrPhone}"`);
}

/**
 * The sandbox's WhatsApp network: accounts (with paired devices or simulated), groups, live
 * connections, devices waiting to be paired. State lives in memory for the life of the process;
 * a device that logs in with credentials the network does not know is adopted (see `authenticate`).
 * The admin API calls the async methods; tests may call them directly.
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
      removeDevice: (account, deviceId, except) => this.unlink(account, deviceId, except),
    };
    this.chatStates = createChatStates(this.view, options.chatStateTtlMs);
    this.host = {
      view: this.view,
      chatStates: this.chatStates,
      logger: this.logger,
      certChain: buildCertChain(SERVER_STATIC_KEY_PAIR.public, Math.floor(this.now() / 1000)),
      maxFrameBytes: options.maxFrameBytes ?? 1 << 20,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 20_000,
      authenticate: (login) => this.authenticate(login),
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
      awaitCode: (wait, request) => this.awaitCode(wait, request),
      cancelScan: (wait) => {
        for (const ref of wait.refs) if (this.waiting.get(ref) === wait) this.waiting.delete(ref);
        for (const [phone, other] of this.codeWaits) if (other === wait) this.codeWaits.delete(phone);
      },
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

  /**
   * A known device logs in when its noise key matches the one it paired with. A device the network
   * has never seen (the sandbox restarted; credentials from elsewhere) is adopted: the sandbox
   * keeps no state across restarts, and refusing would force every session to pair again.
   */
  private authenticate(login: { phone: string; deviceId: number; noiseKey: Buffer; pushName: string | null }): { account: Account; device: Device } | { refused: string; failure: FailureReason } {
    let account = this.accountsByPhone.get(login.phone);
    if (account?.kind === 'contact') return { refused: `${login.phone} is a simulated contact, not a device account`, failure: 401 };
    if (this.revokedNoiseKeys.has(login.noiseKey.toString('hex'))) return { refused: 'this device was removed from its account', failure: 401 };
    // Device 0 is the phone itself, never a companion. Baileys logs in as it with the bare JID that
    // requestPairingCode writes into creds.me before anything is linked: adopting that would link a
    // device without its code.
    if (login.deviceId === 0) return { refused: 'device 0 is the phone itself; a companion logs in with the device id it was linked as', failure: 401 };
    // A banned account is refused before anything else about its devices: WhatsApp answers 403.
    if (account?.banned === true) return { refused: `account ${login.phone} is banned`, failure: 403 };
    if (!account) {
      account = this.newAccount('user', login.phone, login.pushName ?? `Sandbox ${login.phone}`, 'everyone');
      this.logger.info({ phone: login.phone }, 'adopted an unknown account at login');
    }
    let device = account.devices.get(login.deviceId);
    if (!device) {
      device = { id: login.deviceId, noiseKey: login.noiseKey, identityKey: null, preKeyCount: 0, pairedAt: this.now() };
      account.devices.set(device.id, device);
      account.nextDeviceId = Math.max(account.nextDeviceId, device.id + 1);
      this.logger.info({ phone: login.phone, device: login.deviceId }, 'adopted an unknown device at login');
    } else if (!device.noiseKey.equals(login.noiseKey)) {
      return { refused: 'noise key differs from the one the device paired with', failure: 401 };
    }
    return { account, device };
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
    return Promise.resolve(this.describe(account));
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

  /**
   * "Scans" a pairing QR as the phone would: pairs the waiting device to the account `phone` (an
   * existing device account, or a new one with that number) or to a new account with a fresh number.
   * Resolves once the device confirmed (`pair-device-sign`) and was told to restart.
   */
  async scan(input: { qr: string; phone?: string; name?: string }): Promise<{ phone: string; jid: string; device: number }> {
    let qr;
    try {
      qr = parsePairingQr(input.qr);
    } catch (error) {
      if (error instanceof QrError) throw new SandboxError('invalid', error.message);
      throw error;
    }
    const wait = this.waiting.get(qr.ref);
    if (!wait) throw new SandboxError('not_found', 'no device is waiting with this QR: it expired, was scanned already, or its client disconnected');
    if (!wait.noiseKey.equals(qr.noiseKey)) throw new SandboxError('invalid', "the QR's noise key does not match the waiting device's");
    if (this.codeAttempts.has(wait)) throw new SandboxError('conflict', 'this device is being linked by its pairing code right now');
    const target = this.pairingAccount(input.phone === undefined ? this.freshPhone() : phoneOf(input.phone, 'phone'), input.name);
    return this.pair(wait, target, qr);
  }

  /**
   * The account a device is linked to: an existing device account (renamed when `name` is given),
   * or a new one. `created` says whether to forget it again if pairing fails.
   */
  private pairingAccount(phone: string, name: string | undefined): { account: Account; created: boolean } {
    const existing = this.linkableAccount(phone);
    if (existing !== undefined) {
      if (name !== undefined) existing.name = name;
      return { account: existing, created: false };
    }
    return { account: this.newAccount('user', phone, name ?? `Sandbox ${phone}`, 'everyone'), created: true };
  }

  /**
   * The end both ways of linking share: the phone signs the device (`pair-success`, HMAC'd with the
   * adv secret it shares with the device), the device countersigns, and it is told to restart.
   */
  private async pair(wait: PairingWait, target: { account: Account; created: boolean }, secrets: PairingSecrets): Promise<{ phone: string; jid: string; device: number }> {
    const { account, created } = target;
    this.host.cancelScan(wait);
    const deviceId = account.nextDeviceId++;
    try {
      await wait.complete(
        (id) => pairSuccessNode({ id, account, deviceId, secrets, nowSeconds: Math.floor(this.now() / 1000) }),
        (answer) => checkPairDeviceSign(answer, account, wait.identityKey),
      );
    } catch (error) {
      if (created) this.forget(account);
      throw new SandboxError('conflict', `pairing failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    account.devices.set(deviceId, { id: deviceId, noiseKey: wait.noiseKey, identityKey: wait.identityKey, preKeyCount: 0, pairedAt: this.now() });
    this.counters.pairings++;
    this.onChange(true);
    this.logger.info({ phone: account.phone, device: deviceId }, 'device paired');
    return { phone: account.phone, jid: deviceJid(account.phone, deviceId), device: deviceId };
  }

  /** Counters since the network started (a snapshot). */
  stats(): SandboxStats {
    return { ...this.counters };
  }

  /** The account `phone`, if there is one, when devices may be linked to it; throws why not. */
  private linkableAccount(phone: string): Account | undefined {
    const existing = this.accountsByPhone.get(phone);
    if (existing?.kind === 'contact') throw new SandboxError('conflict', `${phone} is a simulated contact; devices pair only to device accounts`);
    if (existing?.banned === true) throw new SandboxError('conflict', `account ${phone} is banned; unban it first with POST /api/sandbox/accounts/${phone}/unban`);
    return existing;
  }

  /** A device asked to be linked to `request.phone` by code (`companion_hello`). */
  private awaitCode(wait: PairingWait, request: LinkCodeRequest): { code: number; text: string } | null {
    const account = this.accountsByPhone.get(request.phone);
    // A simulated contact has no phone to type the code on; a banned account links nothing.
    if (account?.kind === 'contact') return { code: 404, text: 'item-not-found' };
    if (account?.banned === true) return { code: 403, text: 'forbidden' };
    for (const [phone, other] of this.codeWaits) if (other === wait) this.codeWaits.delete(phone);
    // The phone shows the latest request for its number; an older device's code no longer links.
    this.codeWaits.set(request.phone, wait);
    this.notify();
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
  async enterLinkCode(input: { phone: string; code: string; name?: string }): Promise<{ phone: string; jid: string; device: number }> {
    const phone = phoneOf(input.phone, 'phone');
    const code = normaliseLinkCode(input.code);
    if (code === null) {
      throw new SandboxError('invalid', `code must be the 8 characters the device showed (letters and digits, e.g. "ABCD-EFGH"; no 0, I, O or U), got "${input.code}"`);
    }
    // Said first: a code request for such a number was refused, and "request a code" would not help.
    this.linkableAccount(phone);
    const wait = this.codeWaits.get(phone);
    const request = wait?.linkCode() ?? null;
    if (wait === undefined || request === null) {
      throw new SandboxError('not_found', `no device is waiting to be linked to ${phone} by code: request a code for this number first (POST /api/{session}/auth/request-code {"phoneNumber":"${phone}"}, or Baileys' requestPairingCode) and enter it while the device waits`);
    }
    if (this.codeAttempts.has(wait)) throw new SandboxError('conflict', `a code for ${phone} is being checked already; wait for that attempt to end`);
    this.codeAttempts.add(wait);
    try {
      const target = this.pairingAccount(phone, input.name);
      let secrets: PairingSecrets;
      try {
        secrets = await this.exchangeLinkCode(wait, request, target.account, code);
      } catch (error) {
        // Unless a scan linked a device to it meanwhile, the account made for this attempt goes with it.
        if (target.created && target.account.devices.size === 0) this.forget(target.account);
        throw error;
      }
      return await this.pair(wait, target, secrets);
    } finally {
      this.codeAttempts.delete(wait);
    }
  }

  /** The phone's half of the code exchange (see linkcode.ts); the device's identity key and adv secret, or why not. */
  private async exchangeLinkCode(wait: PairingWait, request: LinkCodeRequest, account: Account, code: string): Promise<PairingSecrets> {
    const wrongCode = (): SandboxError =>
      new SandboxError('rejected', `wrong code: ${code} is not the code the device waiting for ${account.phone} shows, so the phone could not link it (as WhatsApp says "couldn't link device"); the device keeps waiting: enter the code it shows`);
    const companionEphemeral = await unwrapEphemeral(request.wrappedEphemeral, code);
    const primaryEphemeral = generateKeyPair();
    const wrapped = await wrapEphemeral(primaryEphemeral.public, code);
    let finish;
    try {
      finish = await wait.primaryHello(request, (id) =>
        primaryHelloNode({ id, ref: request.ref, wrappedEphemeral: wrapped, primaryIdentity: account.identity.public, nowSeconds: Math.floor(this.now() / 1000) }));
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

  /** Every account with its devices, live connections and presence. */
  async accounts(): Promise<AccountInfo[]> {
    return Promise.resolve([...this.accountsByPhone.values()].map((account) => this.describe(account)));
  }

  /** Closes every live connection of `phone` abruptly (no close frame), as a network fault would. */
  async drop(phone: string): Promise<{ dropped: number }> {
    const number = phoneOf(phone, 'phone');
    if (!this.accountsByPhone.has(number)) throw new SandboxError('not_found', `no account with phone ${number}`);
    const live = [...(this.peers.get(number) ?? [])];
    for (const peer of live) peer.drop('dropped through the admin API');
    return Promise.resolve({ dropped: live.length });
  }

  private userAccount(phone: string): Account {
    const number = phoneOf(phone, 'phone');
    const account = this.accountsByPhone.get(number);
    if (!account) throw new SandboxError('not_found', `no account with phone ${number}; GET /api/sandbox/accounts lists them`);
    if (account.kind !== 'user') throw new SandboxError('conflict', `${number} is a simulated contact: it has no devices or connections`);
    return account;
  }

  private unlink(account: Account, deviceId: number, except?: Peer): boolean {
    const device = account.devices.get(deviceId);
    if (!device) return false;
    account.devices.delete(deviceId);
    this.revokedNoiseKeys.add(device.noiseKey.toString('hex'));
    for (const peer of [...(this.peers.get(account.phone) ?? [])]) {
      if (peer.device.id === deviceId && peer !== except) peer.end(deviceRemovedNode(), 'the device was removed from its account');
    }
    this.logger.info({ phone: account.phone, device: deviceId }, 'device removed');
    this.onChange(true);
    this.notify();
    return true;
  }

  /**
   * The phone unlinks a companion device (Linked devices → Log out): its live streams end with a
   * device-removed stream error (Baileys: 401 loggedOut), and the device is forgotten, so its
   * credentials are refused at the next login with `<failure reason=401>`.
   */
  async removeDevice(phone: string, deviceId: number): Promise<{ phone: string; device: number; closed: number }> {
    const account = this.userAccount(phone);
    if (!Number.isInteger(deviceId) || deviceId < 1) throw new SandboxError('invalid', `device must be a linked device id (1 or more), got ${deviceId}`);
    const closed = [...(this.peers.get(account.phone) ?? [])].filter((peer) => peer.device.id === deviceId).length;
    if (!this.unlink(account, deviceId)) {
      const known = [...account.devices.keys()];
      throw new SandboxError('not_found', `account ${account.phone} has no device ${deviceId}; its devices: ${known.length === 0 ? 'none' : known.join(', ')}`);
    }
    return Promise.resolve({ phone: account.phone, device: deviceId, closed });
  }

  /**
   * Bans an account as WhatsApp does: every live stream gets `<failure reason=403>` and closes, and
   * every later login is refused with the same (Baileys: 403 forbidden), until `unban`. Banning a
   * banned account changes nothing.
   */
  async ban(phone: string): Promise<{ phone: string; banned: true; closed: number }> {
    const account = this.userAccount(phone);
    account.banned = true;
    const live = [...(this.peers.get(account.phone) ?? [])];
    for (const peer of live) peer.end(failureNode(403), 'the account was banned');
    this.logger.info({ phone: account.phone, closed: live.length }, 'account banned');
    this.onChange(true);
    this.notify();
    return Promise.resolve({ phone: account.phone, banned: true, closed: live.length });
  }

  /** Lifts a ban: the account's devices log in again with their credentials. */
  async unban(phone: string): Promise<{ phone: string; banned: false }> {
    const account = this.userAccount(phone);
    account.banned = false;
    this.onChange(true);
    this.notify();
    return Promise.resolve({ phone: account.phone, banned: false });
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
    const check = () => condition([...this.accountsByPhone.values()].map((account) => this.describe(account)));
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

  private describe(account: Account): AccountInfo {
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
      connections: [...(this.peers.get(account.phone) ?? [])].map((peer) => ({
        id: peer.id,
        device: peer.device.id,
        available: peer.available,
        subscriptions: [...peer.subscriptions.values()],
      })),
    };
  }
}

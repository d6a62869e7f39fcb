import type { BinaryNode } from 'baileys';
import { binaryNodeToString, encodeBinaryNode } from 'baileys';
import { lidJid, parseJid, pnJid } from './jid.js';
import type { Account, NetworkView, Peer } from './state.js';

/**
 * Presence (online / offline with last seen) as WhatsApp's server behaves, rule by rule.
 * Chat states (typing, recording) live in `chatstate.ts`.
 */

const nowSeconds = (view: NetworkView) => Math.floor(view.now() / 1000);

/**
 * Rule — last-seen privacy: an unavailable presence carries `last=<unix seconds>` when the target
 * shares its last seen with everyone, and `last="deny"` when it shares it with nobody. With no
 * last-seen time known (never online) the attribute is left out.
 * Rule — an available presence is a bare `<presence from=…/>` (no type).
 */
export function presenceNode(target: Account, from: string): BinaryNode {
  if (target.online) return { tag: 'presence', attrs: { from } };
  const attrs: Record<string, string> = { from, type: 'unavailable' };
  if (target.lastSeenPrivacy === 'nobody') attrs.last = 'deny';
  else if (target.lastSeen !== null) attrs.last = String(target.lastSeen);
  return { tag: 'presence', attrs };
}

/**
 * Rule — delivery needs an available receiver: presence and chat states reach only connections
 * that are themselves available. WhatsApp sends nothing to a client that marked itself unavailable
 * (reported by whatsmeow and Baileys users: "subscribe, but send available first").
 */
export function deliverable(peer: Peer): boolean {
  return peer.available;
}

/** Sends the target's current presence to every available connection subscribed to it, and logs it for contacts. */
function broadcast(view: NetworkView, target: Account): void {
  const encoded = new Map<string, Uint8Array>(); // one encoding per JID form, not per subscriber
  for (const peer of view.subscriptions.subscribersOf(target.phone)) {
    const form = peer.subscriptions.get(target.phone);
    if (form === undefined || !deliverable(peer)) continue;
    let bytes = encoded.get(form);
    if (!bytes) encoded.set(form, (bytes = encodeBinaryNode(presenceNode(target, form))));
    peer.sendEncoded(bytes);
  }
  // Rule (sandbox) — simulated contacts watch every real account: they record each presence change
  // of a user account, whatever their own state, so tests can see what a session put on the wire.
  if (target.kind !== 'user') return;
  for (const contact of view.contacts()) {
    const node = presenceNode(target, pnJid(target.phone));
    view.record(contact, {
      timestamp: view.now(),
      kind: 'presence',
      state: target.online ? 'available' : 'unavailable',
      from: node.attrs.from ?? '',
      ...(node.attrs.last === undefined ? {} : { last: node.attrs.last }),
      stanza: binaryNodeToString(node),
    });
  }
}

/**
 * Rule — global presence: an account is online while at least one of its connections has declared
 * itself available (simulated contacts: while the admin API says so). The transition to offline —
 * by `<presence type="unavailable">` or by the last available connection closing — records the
 * last-seen time. Subscribers hear of transitions only, not of repeats.
 */
export function setOnline(view: NetworkView, account: Account, online: boolean): void {
  if (account.online === online) return;
  account.online = online;
  if (!online) account.lastSeen = nowSeconds(view);
  broadcast(view, account);
}

function recomputeUserPresence(view: NetworkView, account: Account): void {
  if (account.kind !== 'user') return;
  let online = false;
  for (const peer of view.peersOf(account.phone)) online ||= peer.available;
  setOnline(view, account, online);
}

/**
 * `<presence type="available|unavailable" name=…/>` from a connection. A bare `<presence/>` (Baileys
 * sends one after a creds update without a name) changes nothing. The name is the push name.
 *
 * Rule — a connection that becomes available receives the current presence of everything it is
 * subscribed to, so a subscription made while it was unavailable is not lost (it would have received
 * nothing meanwhile).
 */
export function handlePresence(view: NetworkView, peer: Peer, node: BinaryNode): void {
  const { type, name, to } = node.attrs;
  if (type === 'subscribe') {
    if (to !== undefined) subscribe(view, peer, to);
    return;
  }
  if (type === 'unsubscribe') {
    if (to === undefined) return;
    const parsed = parseJid(to);
    if (parsed?.kind === 'pn' || parsed?.kind === 'lid') {
      const target = resolveUser(view, to);
      if (target) view.subscriptions.remove(peer, target.phone);
    }
    return;
  }
  if (name !== undefined && name !== '') peer.account.name = name;
  if (type !== 'available' && type !== 'unavailable') return;
  const wasAvailable = peer.available;
  peer.available = type === 'available';
  recomputeUserPresence(view, peer.account);
  if (peer.available && !wasAvailable) {
    for (const [phone, form] of peer.subscriptions) {
      const target = view.account(phone);
      if (target) peer.send(presenceNode(target, form));
    }
  }
}

/** The account a user JID names (phone number or LID form), if it exists. */
export function resolveUser(view: NetworkView, jid: string): Account | undefined {
  const parsed = parseJid(jid);
  if (parsed === null || parsed.kind === 'group') return undefined;
  if (parsed.kind === 'pn') return view.account(parsed.user);
  return view.accountByLid(parsed.user);
}

/**
 * Rule — subscribe: `<presence type="subscribe" to=…/>` makes the connection a subscriber of the
 * target until the connection ends (subscriptions are not stored with the account). The subscriber
 * at once receives the target's current presence, then every change. `from` echoes the JID form the
 * subscriber used (phone number or LID). Subscribing to a group subscribes to each other participant.
 */
export function subscribe(view: NetworkView, peer: Peer, to: string): void {
  const parsed = parseJid(to);
  const targets: [Account, string][] = [];
  if (parsed?.kind === 'group') {
    const group = view.group(parsed.id);
    for (const phone of group?.participants ?? []) {
      const account = view.account(phone);
      if (account && phone !== peer.account.phone) targets.push([account, pnJid(phone)]);
    }
  } else {
    const account = resolveUser(view, to);
    if (account) targets.push([account, parsed?.kind === 'lid' ? lidJid(account.lid) : pnJid(account.phone)]);
  }
  for (const [target, form] of targets) {
    view.subscriptions.add(peer, target.phone, form);
    if (deliverable(peer)) peer.send(presenceNode(target, form));
  }
}

/** Rule — a closed connection loses its subscriptions and, if it was the last available one, takes its account offline. */
export function peerClosed(view: NetworkView, peer: Peer): void {
  view.subscriptions.removeAll(peer);
  peer.available = false;
  recomputeUserPresence(view, peer.account);
}

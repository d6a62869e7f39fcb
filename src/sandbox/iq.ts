import type { BinaryNode } from 'baileys';
import { getBinaryNodeChild, getBinaryNodeChildren } from 'baileys';
import { lidJid, parseJid, pnJid } from './jid.js';
import { resolveUser } from './presence.js';
import type { LastSeenPrivacy, NetworkView, Peer } from './state.js';

/**
 * The `<iq>` queries a client sends, answered through a table keyed by `xmlns`. Baileys awaits
 * some of them before it reports the connection open (pre-key count and upload, passive, digest),
 * each unanswered one costing its 60 s query timeout, so every iq gets an answer: an unknown one an
 * empty result (logged, so the table can grow when a new client needs more).
 */
export interface IqContext {
  readonly view: NetworkView;
  readonly peer: Peer;
  readonly node: BinaryNode;
}

/** The children of the `<iq type="result">`, or an error to return as `<iq type="error">`. */
export type IqAnswer = BinaryNode[] | { readonly error: { readonly code: number; readonly text: string } };

type IqHandler = (context: IqContext) => IqAnswer;

const firstChild = (node: BinaryNode): BinaryNode | undefined => (Array.isArray(node.content) ? node.content[0] : undefined);

/** Pre-keys, kept per device: with ≤ 5 on the server Baileys uploads 812 at login, so only a device's first login pays. */
const encrypt: IqHandler = ({ peer, node }) => {
  const child = firstChild(node);
  switch (child?.tag) {
    case 'count':
      return [{ tag: 'count', attrs: { value: String(peer.device.preKeyCount) } }];
    case 'registration': {
      const list = getBinaryNodeChild(node, 'list');
      peer.device.preKeyCount += getBinaryNodeChildren(list, 'key').length;
      return [];
    }
    case 'digest':
      // Baileys only checks that a digest comes back; without one it uploads keys again and warns.
      return [{ tag: 'digest', attrs: {} }];
    default:
      return [];
  }
};

// Privacy settings as `<category name value>`; the sandbox models `last` (last seen) only and
// reports everything else as shared with everyone. `contacts` and `contact_blacklist` count as
// everyone: the sandbox keeps no address books.
const PRIVACY_CATEGORIES = ['last', 'online', 'profile', 'status', 'readreceipts', 'groupadd', 'calladd'];

const privacy: IqHandler = ({ peer, node }) => {
  const account = peer.account;
  if (node.attrs.type === 'set') {
    for (const category of getBinaryNodeChildren(getBinaryNodeChild(node, 'privacy'), 'category')) {
      if (category.attrs.name !== 'last') continue;
      const value: LastSeenPrivacy = category.attrs.value === 'none' ? 'nobody' : 'everyone';
      account.lastSeenPrivacy = value;
    }
    return [];
  }
  return [{
    tag: 'privacy',
    attrs: {},
    content: PRIVACY_CATEGORIES.map((name) => ({
      tag: 'category',
      attrs: { name, value: name === 'last' && account.lastSeenPrivacy === 'nobody' ? 'none' : 'all' },
    })),
  }];
};

/** usync: answers LID lookups (and contact checks) for the users asked about. */
const usync: IqHandler = ({ view, node }) => {
  const request = getBinaryNodeChild(node, 'usync');
  const query = getBinaryNodeChild(request, 'query');
  const wantsLid = getBinaryNodeChild(query, 'lid') !== undefined;
  const wantsContact = getBinaryNodeChild(query, 'contact') !== undefined;
  const users = getBinaryNodeChildren(getBinaryNodeChild(request, 'list'), 'user').map((user) => {
    const contactNode = getBinaryNodeChild(user, 'contact');
    // The phone travels as node content: a string when encoded, bytes once decoded.
    const raw = contactNode?.content;
    const text = typeof raw === 'string' ? raw : raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : undefined;
    const phone = text?.replace(/^\+/, '');
    const jid = user.attrs.jid ?? (phone === undefined ? undefined : pnJid(phone));
    const account = jid === undefined ? undefined : resolveUser(view, jid);
    const content: BinaryNode[] = [];
    if (wantsLid && account) content.push({ tag: 'lid', attrs: { val: lidJid(account.lid) } });
    if (wantsContact) content.push({ tag: 'contact', attrs: { type: account ? 'in' : 'out' } });
    return { tag: 'user', attrs: { jid: account ? pnJid(account.phone) : (jid ?? '') }, content };
  });
  return [{
    tag: 'usync',
    attrs: { sid: request?.attrs.sid ?? '', index: '0', last: 'true' },
    content: [{ tag: 'list', attrs: {}, content: users }],
  }];
};

/** Group metadata for `w:g2` queries: one group (`to=<id>@g.us`) or all the account takes part in. */
const groups: IqHandler = ({ view, peer, node }) => {
  const describe = (id: string): BinaryNode | undefined => {
    const group = view.group(id);
    if (!group) return undefined;
    return {
      tag: 'group',
      attrs: { id: group.id, subject: group.subject, creation: String(group.creation), s_t: String(group.creation), creator: pnJid(group.participants[0] ?? peer.account.phone) },
      content: group.participants.map((phone) => ({ tag: 'participant', attrs: { jid: pnJid(phone) } })),
    };
  };
  const child = firstChild(node);
  if (child?.tag === 'participating') {
    const mine: BinaryNode[] = [];
    for (const group of view.groupsOf(peer.account.phone)) {
      const described = describe(group.id);
      if (described) mine.push(described);
    }
    return [{ tag: 'groups', attrs: {}, content: mine }];
  }
  const to = node.attrs.to ?? '';
  const id = to.endsWith('@g.us') ? to.slice(0, -'@g.us'.length) : '';
  const described = describe(id);
  if (!described || !view.group(id)?.participants.includes(peer.account.phone)) {
    return { error: { code: 404, text: 'item-not-found' } };
  }
  return [described];
};

/**
 * `md` from a logged-in device: Baileys' `logout()` sends
 * `<remove-companion-device jid="<own device jid>" reason="user_initiated"/>` and closes its socket
 * without waiting for the answer. The device is unlinked as if the phone had removed it; a device
 * may remove only itself.
 */
const md: IqHandler = ({ view, peer, node }) => {
  const remove = getBinaryNodeChild(node, 'remove-companion-device');
  if (remove === undefined) return [];
  const target = parseJid(remove.attrs.jid ?? '');
  if (target?.kind !== 'pn' || target.user !== peer.account.phone || target.device !== peer.device.id) {
    return { error: { code: 403, text: 'forbidden' } };
  }
  view.removeDevice(peer.account, peer.device.id, peer);
  return [];
};

export const IQ_HANDLERS: Readonly<Record<string, IqHandler>> = {
  encrypt,
  passive: () => [],
  'w:p': () => [],
  abt: () => [{ tag: 'props', attrs: { protocol: '1', hash: 'sandbox' }, content: [] }],
  blocklist: () => [{ tag: 'list', attrs: {}, content: [] }],
  privacy,
  usync,
  'w:g2': groups,
  md,
};

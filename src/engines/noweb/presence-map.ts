import type { BinaryNode, WAPresence } from 'baileys';
import { AppError } from '../../errors.js';
import { normaliseChatId, parseChatId } from '../../presence/ids.js';
import type { ChatPresenceStatus, GlobalPresence, PresenceStatus } from '../../presence/status.js';
import type { ParticipantPresence } from '../../presence/types.js';

/** Our global presence → what Baileys' `sendPresenceUpdate` sends as `<presence type=…>`. */
export const GLOBAL_PRESENCE_OUT: Readonly<Record<GlobalPresence, WAPresence>> = {
  online: 'available',
  offline: 'unavailable',
};

/** Our chat state → Baileys' chat-state name (`recording` goes out as `<composing media="audio"/>`). */
export const CHAT_PRESENCE_OUT: Readonly<Record<ChatPresenceStatus, WAPresence>> = {
  typing: 'composing',
  recording: 'recording',
  paused: 'paused',
};

/** Incoming `<chatstate>` child → our status. Unknown children are dropped, not guessed. */
const CHAT_STATE_IN: Readonly<Record<string, (child: BinaryNode) => PresenceStatus>> = {
  composing: (child) => (child.attrs.media === 'audio' ? 'recording' : 'typing'),
  // Baileys' own handler turns this into `available`; we keep the meaning: the person stopped typing.
  paused: () => 'paused',
};

/**
 * A WhatsApp JID → our chat id: `@s.whatsapp.net` becomes `@c.us`, the device part (`:12`) and the
 * agent part (`_1`) go, `@g.us` and `@lid` stay. Anything else (broadcast, newsletter, server) → null.
 */
export function toChatId(jid: string | undefined): string | null {
  if (jid === undefined) return null;
  const at = jid.indexOf('@');
  if (at <= 0) return null;
  const server = jid.slice(at + 1);
  const user = jid.slice(0, at);
  // Devices and agents are parts of one person's account, not chats of their own.
  const bare = server === 'g.us' ? user : (user.split(':')[0]?.split('_')[0] ?? '');
  return normaliseChatId(`${bare}@${server}`);
}

/**
 * Our chat id → the JID Baileys sends to (`@c.us` → `@s.whatsapp.net`). Rejects anything else with
 * `INVALID_CHAT_ID`, saying which forms are accepted.
 */
export function toWhatsAppJid(chatId: string): string {
  const parsed = parseChatId(chatId);
  if (!parsed.ok) throw new AppError('INVALID_CHAT_ID', parsed.message, { chatId });
  const { kind, user, id } = parsed.chatId;
  return kind === 'contact' ? `${user}@s.whatsapp.net` : id;
}

/** One incoming presence fact, ready for an `EngineEvent` of type `presence`. */
export interface IncomingPresence {
  readonly chatId: string;
  readonly presences: readonly ParticipantPresence[];
}

function lastSeenOf(last: string | undefined): number | null {
  // `deny`: the person hides their last seen; absent: WhatsApp did not say. Both are "unknown".
  if (last === undefined || !/^\d+$/.test(last)) return null;
  const value = Number(last);
  return value > 0 ? value : null;
}

function presenceNode(node: BinaryNode): PresenceStatus | null {
  switch (node.attrs.type) {
    case undefined:
    case 'available':
      return 'online';
    case 'unavailable':
      return 'offline';
    default:
      // subscribe/unsubscribe/error are not presence facts about anyone.
      return null;
  }
}

function chatStateNode(node: BinaryNode): PresenceStatus | null {
  const child = Array.isArray(node.content) ? node.content[0] : undefined;
  if (child === undefined) return null;
  const map = CHAT_STATE_IN[child.tag];
  return map === undefined ? null : map(child);
}

/** Incoming stanza handlers, keyed by tag. */
const INCOMING: Readonly<Record<string, (node: BinaryNode) => PresenceStatus | null>> = {
  presence: presenceNode,
  chatstate: chatStateNode,
};

/**
 * Maps a raw `<presence>` or `<chatstate>` node to our model. We read the nodes rather than Baileys'
 * `presence.update` because Baileys folds a chat-state `paused` into `available` (indistinguishable
 * from a presence `available`) and drops `last="deny"`; the raw node keeps both meanings.
 *
 * `from` is the chat (a contact or a group); `participant` is the person inside a group.
 */
export function mapIncomingNode(node: BinaryNode): IncomingPresence | null {
  const handler = INCOMING[node.tag];
  if (handler === undefined) return null;
  const status = handler(node);
  if (status === null) return null;
  const chatId = toChatId(node.attrs.from);
  if (chatId === null) return null;
  const participant = toChatId(node.attrs.participant);
  // A group-level presence without a participant (e.g. an online count) says nothing about a person.
  if (participant === null && chatId.endsWith('@g.us')) return null;
  const lastSeen = status === 'offline' ? lastSeenOf(node.attrs.last) : null;
  const hidden = status === 'offline' && node.attrs.last === 'deny';
  return { chatId, presences: [{ participant: participant ?? chatId, lastKnownPresence: status, lastSeen, ...(hidden ? { lastSeenHidden: true } : {}) }] };
}

/** `<lid>@lid` → the phone-number JID WhatsApp told us for it, or null when unknown. */
export type LidLookup = (lidJid: string) => Promise<string | null>;

/**
 * WhatsApp increasingly sends presence from a contact's LID even when we subscribed by phone
 * number, and then a client asking `GET /presence/<phone>@c.us` would see nothing ("presence never
 * arrives" with LIDs). So a LID we know the phone number of is reported as `<phone>@c.us`, unless
 * the client subscribed to that LID itself (`keepLid`): then it gets the form it asked for.
 */
export async function preferPhoneNumbers(incoming: IncomingPresence, lookup: LidLookup, keepLid: (chatId: string) => boolean): Promise<IncomingPresence> {
  const translate = async (id: string): Promise<string> => {
    if (!id.endsWith('@lid') || keepLid(id)) return id;
    let pn: string | null = null;
    try {
      pn = await lookup(id);
    } catch {
      // The mapping store failing must not lose the presence itself: report it under the LID.
      return id;
    }
    return toChatId(pn ?? undefined) ?? id;
  };
  const chatId = await translate(incoming.chatId);
  const presences = await Promise.all(incoming.presences.map(async (p) => ({ ...p, participant: await translate(p.participant) })));
  return { chatId, presences };
}

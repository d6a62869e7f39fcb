/**
 * Chat ids as WAHA clients write them, and the one form we store and emit.
 *
 * Accepted: `<digits>@c.us` (a contact), `<digits>@s.whatsapp.net` (WhatsApp's own form of a
 * contact, normalised to `@c.us` so that one person has one id), `<id>@g.us` (a group: digits, or the
 * legacy `<creator>-<timestamp>` form), `<id>@lid` (a linked-device privacy id, digits). Anything
 * else is refused with a message that says which form is expected.
 */
export type ChatKind = 'contact' | 'group' | 'lid';

export interface ChatId {
  /** The normalised id: `<digits>@c.us`, `<id>@g.us` or `<id>@lid`. */
  readonly id: string;
  readonly kind: ChatKind;
  /** The part before `@`. */
  readonly user: string;
}

export type ChatIdResult = { readonly ok: true; readonly chatId: ChatId } | { readonly ok: false; readonly message: string };

export const CHAT_ID_FORMS = '<digits>@c.us (or <digits>@s.whatsapp.net) for a contact, <id>@g.us for a group, or <digits>@lid';

const DIGITS = /^[0-9]{1,20}$/;
const GROUP = /^[0-9]{1,30}(-[0-9]{1,20})?$/;
const LID = /^[0-9]{1,25}$/;

function fail(raw: string, why: string): ChatIdResult {
  return { ok: false, message: `chatId "${raw}" is not valid: ${why}` };
}

export function parseChatId(raw: string): ChatIdResult {
  const at = raw.lastIndexOf('@');
  if (at <= 0) return fail(raw, `expected ${CHAT_ID_FORMS}`);
  const user = raw.slice(0, at);
  const server = raw.slice(at + 1).toLowerCase();
  switch (server) {
    case 'c.us':
    case 's.whatsapp.net':
      if (!DIGITS.test(user)) {
        return fail(raw, `expected <digits>@${server}: the phone number in international format, digits only (no "+", spaces or device suffix)`);
      }
      return { ok: true, chatId: { id: `${user}@c.us`, kind: 'contact', user } };
    case 'g.us':
      if (!GROUP.test(user)) return fail(raw, 'expected <id>@g.us where <id> is the group number (digits, or <digits>-<digits>)');
      return { ok: true, chatId: { id: `${user}@g.us`, kind: 'group', user } };
    case 'lid':
      if (!LID.test(user)) return fail(raw, 'expected <digits>@lid');
      return { ok: true, chatId: { id: `${user}@lid`, kind: 'lid', user } };
    default:
      return fail(raw, `unknown server "@${server}"; expected ${CHAT_ID_FORMS}`);
  }
}

/**
 * Phone numbers in international format (E.164) have at most 15 digits, country code included.
 * The shortest in use have 7: a 3-digit country code and a 4-digit subscriber number (Niue +683,
 * Tokelau +690, the older numbers of Saint Helena +290); the one-digit country codes (+1, +7) have
 * 10-digit national numbers. Country codes never start with 0.
 */
export const PHONE_MIN_DIGITS = 7;
export const PHONE_MAX_DIGITS = 15;
const PHONE = new RegExp(`^[1-9][0-9]{${PHONE_MIN_DIGITS - 1},${PHONE_MAX_DIGITS - 1}}$`);

/**
 * A chat id a client asks for: one `parseChatId` accepts whose contact part is also a plausible
 * phone number. A typo (`123@c.us`) would otherwise be subscribed for good, renewed after every
 * reconnect. Ids WhatsApp sends us are taken with `parseChatId` alone: WhatsApp is not a typo.
 */
export function parseRequestedChatId(raw: string): ChatIdResult {
  const result = parseChatId(raw);
  if (!result.ok || result.chatId.kind !== 'contact' || PHONE.test(result.chatId.user)) return result;
  return fail(
    raw,
    `a phone number has ${PHONE_MIN_DIGITS} to ${PHONE_MAX_DIGITS} digits in international format, country code first (no leading 0), got ${result.chatId.user.length} digits${result.chatId.user.startsWith('0') ? ' starting with 0' : ''}`,
  );
}

/** The normalised id, or null when `raw` is not a chat id. */
export function normaliseChatId(raw: string): string | null {
  const result = parseChatId(raw);
  return result.ok ? result.chatId.id : null;
}

/**
 * The JID forms the sandbox understands. Users are addressed by phone number
 * (`<phone>@s.whatsapp.net`, with an optional `:<device>`; `@c.us` is the WAHA/legacy spelling)
 * or by LID (`<lid>@lid`); groups are `<id>@g.us`.
 */
export const SERVER_JID = 's.whatsapp.net';

export type ParsedJid =
  | { readonly kind: 'pn'; readonly user: string; readonly device: number }
  | { readonly kind: 'lid'; readonly user: string; readonly device: number }
  | { readonly kind: 'group'; readonly id: string };

const USER = /^(\d{5,20})(?::(\d{1,3}))?@(s\.whatsapp\.net|c\.us|lid)$/;
const GROUP = /^(\d{1,30}(?:-\d{1,20})?)@g\.us$/;

export function parseJid(jid: string): ParsedJid | null {
  const user = USER.exec(jid);
  if (user) {
    const [, id = '', device, server] = user;
    return { kind: server === 'lid' ? 'lid' : 'pn', user: id, device: device === undefined ? 0 : Number(device) };
  }
  const group = GROUP.exec(jid);
  if (group) return { kind: 'group', id: group[1] ?? '' };
  return null;
}

export const pnJid = (phone: string): string => `${phone}@${SERVER_JID}`;
export const lidJid = (lid: string): string => `${lid}@lid`;
export const groupJid = (id: string): string => `${id}@g.us`;
export const deviceJid = (phone: string, device: number): string => (device === 0 ? pnJid(phone) : `${phone}:${device}@${SERVER_JID}`);

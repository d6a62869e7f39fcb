import { describe, expect, it } from 'vitest';
import { normaliseChatId, parseChatId, parseRequestedChatId } from '../../src/presence/ids.js';

describe('parseChatId', () => {
  it.each([
    ['123456789@c.us', '123456789@c.us', 'contact'],
    ['123456789@s.whatsapp.net', '123456789@c.us', 'contact'],
    ['123456789@C.US', '123456789@c.us', 'contact'],
    ['120363025246125888@g.us', '120363025246125888@g.us', 'group'],
    ['491234567890-1618574561@g.us', '491234567890-1618574561@g.us', 'group'],
    ['208460312150185@lid', '208460312150185@lid', 'lid'],
  ])('accepts %s as %s (%s)', (raw, id, kind) => {
    const result = parseChatId(raw);
    expect(result).toEqual({ ok: true, chatId: { id, kind, user: raw.slice(0, raw.lastIndexOf('@')) } });
  });

  it.each([
    ['123456789', /expected <digits>@c\.us .*@g\.us.*@lid/],
    ['', /expected <digits>@c\.us/],
    ['@c.us', /expected <digits>@c\.us/],
    ['+49123@c.us', /expected <digits>@c\.us: the phone number .*digits only/],
    ['49 123@c.us', /digits only/],
    ['49123:12@s.whatsapp.net', /expected <digits>@s\.whatsapp\.net.*device suffix/],
    ['abc@g.us', /expected <id>@g\.us/],
    ['12-ab@g.us', /expected <id>@g\.us/],
    ['x1@lid', /expected <digits>@lid/],
    ['123@broadcast', /unknown server "@broadcast"/],
    ['123@c.us@c.us', /digits only/],
  ])('refuses %j and says which form is expected', (raw, message) => {
    const result = parseChatId(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toContain(`"${raw}"`);
      expect(result.message).toMatch(message);
    }
  });

  it('normaliseChatId returns the id or null', () => {
    expect(normaliseChatId('1@s.whatsapp.net')).toBe('1@c.us');
    expect(normaliseChatId('nope')).toBeNull();
  });
});

describe('parseRequestedChatId', () => {
  it.each(['6834321@c.us', '14155550123@c.us', '491701234567@s.whatsapp.net', '123456789012345@c.us', '12@g.us', '1@lid'])('accepts %s', (raw) => {
    expect(parseRequestedChatId(raw)).toEqual(parseChatId(raw));
    expect(parseRequestedChatId(raw).ok).toBe(true);
  });

  it.each([
    ['123@c.us', /7 to 15 digits .* got 3 digits$/],
    ['683432@c.us', /got 6 digits$/],
    ['1234567890123456@c.us', /got 16 digits$/],
    ['0491701234567@s.whatsapp.net', /got 13 digits starting with 0$/],
    ['nobody', /expected <digits>@c\.us/],
  ])('refuses %s, a phone number no one can have', (raw, message) => {
    const result = parseRequestedChatId(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

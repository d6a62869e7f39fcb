import type { BinaryNode } from 'baileys';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.js';
import {
  CHAT_PRESENCE_OUT,
  GLOBAL_PRESENCE_OUT,
  mapIncomingNode,
  preferPhoneNumbers,
  toChatId,
  toWhatsAppJid,
} from '../../../src/engines/noweb/presence-map.js';

const node = (tag: string, attrs: Record<string, string>, content?: BinaryNode[]): BinaryNode =>
  content === undefined ? { tag, attrs } : { tag, attrs, content };

describe('outgoing presence table', () => {
  it('maps every global presence', () => {
    expect(GLOBAL_PRESENCE_OUT).toEqual({ online: 'available', offline: 'unavailable' });
  });
  it('maps every chat state', () => {
    expect(CHAT_PRESENCE_OUT).toEqual({ typing: 'composing', recording: 'recording', paused: 'paused' });
  });
});

describe('incoming presence', () => {
  const from = '491701234567@s.whatsapp.net';
  const contact = '491701234567@c.us';
  it.each([
    ['presence without type → online', node('presence', { from }), 'online', null],
    ['presence available → online', node('presence', { from, type: 'available' }), 'online', null],
    ['unavailable with last → offline + lastSeen', node('presence', { from, type: 'unavailable', last: '1764140000' }), 'offline', 1764140000],
    ['unavailable without last → lastSeen null', node('presence', { from, type: 'unavailable' }), 'offline', null],
    ['composing → typing', node('chatstate', { from }, [node('composing', {})]), 'typing', null],
    ['composing audio → recording', node('chatstate', { from }, [node('composing', { media: 'audio' })]), 'recording', null],
    ['chat-state paused → paused (not online)', node('chatstate', { from }, [node('paused', {})]), 'paused', null],
  ] as const)('%s', (_name, input, lastKnownPresence, lastSeen) => {
    expect(mapIncomingNode(input)).toEqual({ chatId: contact, presences: [{ participant: contact, lastKnownPresence, lastSeen }] });
  });

  it('marks an unavailable with last=deny as a hidden last seen, apart from one that says nothing', () => {
    expect(mapIncomingNode(node('presence', { from, type: 'unavailable', last: 'deny' }))).toEqual({
      chatId: contact,
      presences: [{ participant: contact, lastKnownPresence: 'offline', lastSeen: null, lastSeenHidden: true }],
    });
    expect(mapIncomingNode(node('presence', { from, type: 'unavailable' }))?.presences[0]).not.toHaveProperty('lastSeenHidden');
  });

  it('keeps the participant of a group chat state', () => {
    const input = node('chatstate', { from: '120363041234567890@g.us', participant: '491701234567:3@s.whatsapp.net' }, [node('composing', {})]);
    expect(mapIncomingNode(input)).toEqual({
      chatId: '120363041234567890@g.us',
      presences: [{ participant: contact, lastKnownPresence: 'typing', lastSeen: null }],
    });
  });

  it('keeps LID senders as @lid', () => {
    const input = node('chatstate', { from: '120363041234567890@g.us', participant: '123456789012345@lid' }, [node('paused', {})]);
    expect(mapIncomingNode(input)?.presences[0]?.participant).toBe('123456789012345@lid');
    expect(mapIncomingNode(node('presence', { from: '123456789012345@lid' }))?.chatId).toBe('123456789012345@lid');
  });

  it.each([
    ['a subscribe echo', node('presence', { from, type: 'subscribe' })],
    ['an error presence', node('presence', { from, type: 'error' })],
    ['a chatstate without child', node('chatstate', { from })],
    ['an unknown chat state', node('chatstate', { from }, [node('dancing', {})])],
    ['a group presence without participant', node('presence', { from: '120363041234567890@g.us', count: '3' })],
    ['a broadcast sender', node('presence', { from: 'status@broadcast' })],
    ['another tag', node('message', { from })],
  ] as const)('ignores %s', (_name, input) => {
    expect(mapIncomingNode(input)).toBeNull();
  });
});

describe('JIDs', () => {
  it.each([
    ['491701234567@s.whatsapp.net', '491701234567@c.us'],
    ['491701234567:12@s.whatsapp.net', '491701234567@c.us'],
    ['491701234567_1:2@s.whatsapp.net', '491701234567@c.us'],
    ['491701234567@c.us', '491701234567@c.us'],
    ['1234567890-1600000000@g.us', '1234567890-1600000000@g.us'],
    ['123456789012345:4@lid', '123456789012345@lid'],
    ['status@broadcast', null],
    ['s.whatsapp.net', null],
  ] as const)('%s → %s', (jid, expected) => {
    expect(toChatId(jid)).toBe(expected);
  });

  it.each([
    ['491701234567@c.us', '491701234567@s.whatsapp.net'],
    ['491701234567@s.whatsapp.net', '491701234567@s.whatsapp.net'],
    ['120363041234567890@g.us', '120363041234567890@g.us'],
    ['123456789012345@lid', '123456789012345@lid'],
  ] as const)('sends to %s as %s', (chatId, jid) => {
    expect(toWhatsAppJid(chatId)).toBe(jid);
  });

  it('refuses a chat id that is not one, with INVALID_CHAT_ID', () => {
    let caught: unknown;
    try {
      toWhatsAppJid('+49 170 1234567');
    } catch (error) {
      caught = error;
    }
    expect(isAppError(caught) && caught.code).toBe('INVALID_CHAT_ID');
  });
});

describe('preferPhoneNumbers', () => {
  const lid = '123456789012345@lid';
  const incoming = { chatId: lid, presences: [{ participant: lid, lastKnownPresence: 'online' as const, lastSeen: null }] };
  const known = (id: string): Promise<string | null> => Promise.resolve(id === lid ? '491701234567:0@s.whatsapp.net' : null);

  it('reports a LID with a known phone number as @c.us', async () => {
    expect(await preferPhoneNumbers(incoming, known, () => false)).toEqual({
      chatId: '491701234567@c.us',
      presences: [{ participant: '491701234567@c.us', lastKnownPresence: 'online', lastSeen: null }],
    });
  });
  it('keeps the LID the client subscribed to by LID', async () => {
    expect(await preferPhoneNumbers(incoming, known, (id) => id === lid)).toEqual(incoming);
  });
  it('keeps an unknown LID, and a LID whose lookup fails', async () => {
    expect(await preferPhoneNumbers(incoming, () => Promise.resolve(null), () => false)).toEqual(incoming);
    expect(await preferPhoneNumbers(incoming, () => Promise.reject(new Error('db down')), () => false)).toEqual(incoming);
  });
  it('translates a group participant and leaves the group id alone', async () => {
    const group = { chatId: '120363041234567890@g.us', presences: [{ participant: lid, lastKnownPresence: 'typing' as const, lastSeen: null }] };
    expect(await preferPhoneNumbers(group, known, () => false)).toEqual({
      chatId: '120363041234567890@g.us',
      presences: [{ participant: '491701234567@c.us', lastKnownPresence: 'typing', lastSeen: null }],
    });
  });
});

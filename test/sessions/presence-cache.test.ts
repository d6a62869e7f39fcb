import { describe, expect, it } from 'vitest';
import { createPresenceCache } from '../../src/sessions/presence-cache.js';

const chat = (id: string) => ({ id, presences: [{ participant: id, lastKnownPresence: 'online', lastSeen: null }] }) as const;

describe('presence cache', () => {
  it('tells an unknown chat (undefined) from one the store has nothing for (null)', () => {
    const cache = createPresenceCache();
    expect(cache.get('1@c.us')).toBeUndefined();
    cache.set('1@c.us', null);
    expect(cache.get('1@c.us')).toBeNull();
    cache.set('1@c.us', chat('1@c.us'));
    expect(cache.get('1@c.us')).toEqual(chat('1@c.us'));
    cache.delete('1@c.us');
    expect(cache.get('1@c.us')).toBeUndefined();
  });

  it('keeps at most maxChats, forgetting the least recently used first', () => {
    const cache = createPresenceCache(2);
    cache.set('a', chat('a'));
    cache.set('b', chat('b'));
    cache.get('a');
    cache.set('c', chat('c'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual(chat('a'));
    expect(cache.get('c')).toEqual(chat('c'));
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
  });

  it('keeps the order of use through repeated reads of one chat, a delete and a re-add', () => {
    const cache = createPresenceCache(3);
    cache.set('a', chat('a'));
    cache.set('b', chat('b'));
    cache.set('c', chat('c'));
    cache.get('a');
    cache.get('a');
    cache.delete('a');
    cache.set('d', chat('d'));
    // a is gone; b is the least recently used of b, c, d.
    cache.set('a', chat('a'));
    expect(cache.get('b')).toBeUndefined();
    cache.get('c');
    cache.get('c');
    cache.set('e', chat('e'));
    // Order of use: c (read twice), a, then d forgotten for e.
    expect(cache.get('d')).toBeUndefined();
    expect([cache.get('c'), cache.get('a'), cache.get('e')]).toEqual([chat('c'), chat('a'), chat('e')]);
  });

  it('lists from memory only once filled with the whole store, in chat id order, until a chat is forgotten', () => {
    const cache = createPresenceCache(4);
    cache.set('b', chat('b'));
    expect(cache.list()).toBeUndefined();
    cache.fill(cache.version(), [chat('a'), chat('b')]);
    expect(cache.list()).toEqual([chat('a'), chat('b')]);
    // Writes keep it whole (the store got them too); null is "nothing stored", not listed.
    cache.set('0', chat('0'));
    cache.set('z', null);
    expect(cache.list()).toEqual([chat('0'), chat('a'), chat('b')]);
    expect(cache.list()).toBe(cache.list());
    cache.delete('a');
    expect(cache.list()).toBeUndefined();
    cache.fill(cache.version(), [chat('0'), chat('b')]);
    expect(cache.list()).toEqual([chat('0'), chat('b')]);
    // Past the bound a chat is forgotten: the list is no longer whole.
    cache.set('c', chat('c'));
    expect(cache.list()).toEqual([chat('0'), chat('b'), chat('c')]);
    cache.set('d', chat('d'));
    expect(cache.list()).toBeUndefined();
    cache.fill(cache.version(), [chat('0'), chat('b'), chat('c'), chat('d'), chat('e')]);
    expect(cache.list()).toBeUndefined();
  });

  it('refuses what a reader read from the store when the cache changed since its read began', () => {
    const cache = createPresenceCache();
    const before = cache.version();
    cache.set('a', chat('a'));
    cache.remember(before, 'b', chat('b'));
    expect(cache.get('b')).toBeUndefined();
    cache.fill(before, [chat('b')]);
    expect(cache.list()).toBeUndefined();
    const now = cache.version();
    cache.remember(now, 'b', null);
    expect(cache.get('b')).toBeNull();
    // Never over what the writer set.
    cache.remember(now, 'a', null);
    expect(cache.get('a')).toEqual(chat('a'));
    cache.clear();
    cache.fill(now, [chat('a')]);
    expect(cache.list()).toBeUndefined();
  });
});

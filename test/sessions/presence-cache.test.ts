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
});

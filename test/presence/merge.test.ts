import { describe, expect, it } from 'vitest';
import { mergeChatPresence, mergePresence, withChanges } from '../../src/presence/merge.js';
import type { ParticipantPresence } from '../../src/presence/types.js';
import type { PresenceStatus } from '../../src/presence/status.js';

const p = (lastKnownPresence: PresenceStatus, lastSeen: number | null, participant = '1@c.us'): ParticipantPresence => ({
  participant,
  lastKnownPresence,
  lastSeen,
});

describe('mergePresence', () => {
  it.each<[string, ParticipantPresence | null, ParticipantPresence, ParticipantPresence | null]>([
    ['first update is stored as is', null, p('online', null), p('online', null)],
    ['first offline with last seen', null, p('offline', 100), p('offline', 100)],
    ['identical update changes nothing', p('online', null), p('online', null), null],
    ['identical offline changes nothing', p('offline', 100), p('offline', 100), null],
    ['online → offline with last seen', p('online', null), p('offline', 200), p('offline', 200)],
    ['offline → online carries last seen', p('offline', 200), p('online', null), p('online', 200)],
    ['online → typing carries last seen', p('online', 200), p('typing', null), p('typing', 200)],
    ['typing → paused carries last seen', p('typing', 200), p('paused', null), p('paused', 200)],
    ['recording → online carries last seen', p('recording', 200), p('online', null), p('online', 200)],
    ['hidden offline keeps the known last seen', p('online', 200), p('offline', null), p('offline', 200)],
    ['hidden offline with nothing known stays null', p('online', null), p('offline', null), p('offline', null)],
    ['last seen never goes backwards', p('offline', 300), p('offline', 200), null],
    ['newer last seen replaces an older one', p('offline', 300), p('offline', 400), p('offline', 400)],
    ['a repeated hidden offline after a known one changes nothing', p('offline', 300), p('offline', null), null],
    ['presence change with older last seen keeps the newer', p('offline', 300), p('online', 100), p('online', 300)],
  ])('%s', (_name, stored, update, expected) => {
    expect(mergePresence(stored, update)).toEqual(expected);
  });
});

describe('mergePresence of a hidden last seen', () => {
  const hidden = (lastKnownPresence: PresenceStatus, lastSeen: number | null): ParticipantPresence => ({ ...p(lastKnownPresence, lastSeen), lastSeenHidden: true });
  it.each<[string, ParticipantPresence | null, ParticipantPresence, ParticipantPresence | null]>([
    ['a first hidden offline is stored hidden', null, hidden('offline', null), hidden('offline', null)],
    ['an offline that says nothing becoming hidden is a change', p('offline', null), hidden('offline', null), hidden('offline', null)],
    ['a repeated hidden offline changes nothing', hidden('offline', null), hidden('offline', null), null],
    ['online after a hidden offline keeps the flag across', hidden('offline', null), p('online', null), hidden('online', null)],
    ['an offline with a last seen after hidden ones clears the flag', hidden('online', null), p('offline', 500), p('offline', 500)],
  ])('%s', (_name, stored, update, expected) => {
    expect(mergePresence(stored, update)).toEqual(expected);
  });

  it('reports a participant whose only change is the flag', () => {
    expect(mergeChatPresence({ id: '1@c.us', presences: [p('offline', null)] }, [{ ...p('offline', null), lastSeenHidden: true }])).toEqual([{ ...p('offline', null), lastSeenHidden: true }]);
  });
});

describe('mergeChatPresence', () => {
  const group = '1203@g.us';

  it('returns only the participants that changed, with their final value', () => {
    const stored = { id: group, presences: [p('online', null, 'a@c.us'), p('offline', 5, 'b@c.us')] };
    const changed = mergeChatPresence(stored, [
      p('online', null, 'a@c.us'),
      p('typing', null, 'b@c.us'),
      p('paused', null, 'b@c.us'),
      p('online', null, 'c@c.us'),
    ]);
    expect(changed).toEqual([p('paused', 5, 'b@c.us'), p('online', null, 'c@c.us')]);
  });

  it('is empty when nothing changed', () => {
    const stored = { id: group, presences: [p('online', null, 'a@c.us')] };
    expect(mergeChatPresence(stored, [p('online', null, 'a@c.us'), p('online', null, 'a@c.us')])).toEqual([]);
    expect(mergeChatPresence(null, [])).toEqual([]);
  });

  it('drops a change that is undone within the same update', () => {
    const stored = { id: group, presences: [p('online', null, 'a@c.us')] };
    expect(mergeChatPresence(stored, [p('typing', null, 'a@c.us'), p('online', null, 'a@c.us')])).toEqual([]);
  });
});

describe('withChanges', () => {
  it('is the stored chat with the changed participants replaced or added, by participant', () => {
    const stored = { id: 'g@g.us', presences: [p('offline', 100, '2@c.us'), p('online', null, '3@c.us')] };
    expect(withChanges('g@g.us', stored, [p('typing', 100, '2@c.us'), p('online', null, '1@c.us')])).toEqual({
      id: 'g@g.us',
      presences: [p('online', null, '1@c.us'), p('typing', 100, '2@c.us'), p('online', null, '3@c.us')],
    });
    expect(withChanges('1@c.us', null, [p('online', null)])).toEqual({ id: '1@c.us', presences: [p('online', null)] });
  });
});

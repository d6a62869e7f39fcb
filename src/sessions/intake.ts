import type { SessionFact } from '../presence/events.js';
import { mergeChatPresence, withChanges } from '../presence/merge.js';
import type { ParticipantPresence } from '../presence/types.js';
import type { SessionContext } from './context.js';
import type { Runtime } from './runtime.js';
import { emit } from './status.js';

/**
 * Presence intake: what an engine reports of a chat is merged with what is known (the runtime's
 * cache, else the store), and only a change is stored and published as `presence.update`. Runs
 * inside the session's event queue.
 *
 * The next engine event is merged without waiting for this one's write and accept to commit (both
 * are trailed on the queue, so its `idle` still covers them): the writes of a burst share one
 * statement on PostgreSQL and the accepts one transaction, in call order, which is the events'
 * order, so per-chat order holds. A change is published only once it is stored. When a write
 * fails, the cache forgets the chat and the next event merges with the store again; an event
 * merged while the failed write was in flight, and found to change nothing, is not replayed (it
 * would have to be replayed before every later event of the chat to keep their order).
 */
export async function applyPresence(ctx: SessionContext, runtime: Runtime, chatId: string, presences: readonly ParticipantPresence[]): Promise<void> {
  const cached = runtime.presence.get(chatId);
  const stored = cached === undefined ? await ctx.storage.presence.get(runtime.name, chatId) : cached;
  const changed = mergeChatPresence(stored, presences);
  if (changed.length === 0) {
    if (cached === undefined) runtime.presence.set(chatId, stored);
    return;
  }
  // Taken as stored at once, so the next event merges with it; forgotten if the write fails.
  runtime.presence.set(chatId, withChanges(chatId, stored, changed));
  ctx.history?.changed(runtime.name, runtime.stored.config, chatId, changed);
  const fact: SessionFact<'presence.update'> = { session: runtime.name, event: 'presence.update', payload: { id: chatId, presences: changed } };
  const done = ctx.storage.presence.put(runtime.name, chatId, changed).then(
    () => emit(ctx, runtime, fact),
    (error: unknown) => {
      runtime.presence.delete(chatId);
      runtime.logger.error({ err: error, chatId }, 'could not store a presence change; it is not published');
    },
  );
  await runtime.events.trail(done);
}

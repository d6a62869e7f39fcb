import { mergeChatPresence, withChanges } from '../presence/merge.js';
import type { ParticipantPresence } from '../presence/types.js';
import type { SessionContext } from './context.js';
import type { Runtime } from './runtime.js';
import { emit } from './status.js';

/**
 * Presence intake: what an engine reports of a chat is merged with what is known (the runtime's
 * cache, else the store), and only a change is stored and published as `presence.update`. Runs
 * inside the session's event queue.
 */
export async function applyPresence(ctx: SessionContext, runtime: Runtime, chatId: string, presences: readonly ParticipantPresence[]): Promise<void> {
  const cached = runtime.presence.get(chatId);
  const stored = cached === undefined ? await ctx.storage.presence.get(runtime.name, chatId) : cached;
  const changed = mergeChatPresence(stored, presences);
  if (changed.length === 0) {
    if (cached === undefined) runtime.presence.set(chatId, stored);
    return;
  }
  try {
    await ctx.storage.presence.put(runtime.name, chatId, changed);
  } catch (error) {
    runtime.presence.delete(chatId);
    throw error;
  }
  runtime.presence.set(chatId, withChanges(chatId, stored, changed));
  ctx.history?.changed(runtime.name, runtime.stored.config, chatId, changed);
  await emit(ctx, runtime, { session: runtime.name, event: 'presence.update', payload: { id: chatId, presences: changed } });
}

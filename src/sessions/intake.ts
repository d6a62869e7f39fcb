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
  pipelined(runtime, emit(ctx, runtime, { session: runtime.name, event: 'presence.update', payload: { id: chatId, presences: changed } }));
}

/** Per session: the newest presence publish, and whether a task waiting for it is queued. */
const publishing = new WeakMap<Runtime, { latest: Promise<void>; waiting: boolean }>();

/**
 * The next engine event is merged without waiting for this one's accept to commit, so the accepts
 * of every event handled in one turn share one transaction (the outbox group-commits them in call
 * order, which is the events' order: per-chat order holds). A task queued behind the events
 * already waiting waits for the newest publish, so the queue's `idle` (and `settled`, shutdown)
 * still covers every accept, and no more than one backlog of accepts is ever in flight.
 * `emit` never rejects (a failure is logged there).
 */
function pipelined(runtime: Runtime, accepted: Promise<void>): void {
  const state = publishing.get(runtime);
  if (state === undefined) publishing.set(runtime, { latest: accepted, waiting: true });
  else {
    state.latest = accepted;
    if (state.waiting) return;
    state.waiting = true;
  }
  runtime.events.post(async () => {
    const current = publishing.get(runtime);
    if (current === undefined) return;
    current.waiting = false;
    await current.latest;
  });
}

import type { Engine, EngineEvent, EngineFactory } from '../engines/engine.js';
import { CHAT_PRESENCES } from '../presence/status.js';
import type { PresenceStatus, SessionStatus } from '../presence/status.js';
import type { Cell, CounterFamily } from './cells.js';
import type { Metrics } from './metrics.js';
import { withSession } from './metrics.js';

/** Why a connection left WORKING, from the status the engine reported next (bounded: never the free-text reason). */
export function closeReason(event: { readonly status: SessionStatus; readonly reason?: string; readonly unlinked?: true }): string {
  if (event.unlinked === true) return 'logged_out';
  switch (event.status) {
    case 'STARTING':
      // A reason means the connection was lost and is retried with backoff; none: WhatsApp asked for a fresh login (515).
      return event.reason === undefined ? 'restart_required' : 'connection_lost';
    case 'FAILED':
      return 'failed';
    case 'STOPPED':
      return 'stopped';
    case 'SCAN_QR_CODE':
      return 'unpaired';
    case 'WORKING':
      return 'none';
  }
}

const PRESENCES: readonly PresenceStatus[] = ['online', 'offline', 'typing', 'recording', 'paused'];
const CHAT_STATES: ReadonlySet<string> = new Set<string>(CHAT_PRESENCES);

/**
 * Wraps an engine factory: every engine it builds counts its connects, reconnects and closes (from
 * the status events it emits), the presence updates it receives and the presences and subscribes
 * it sends. The engine and the session layer are untouched; each engine binds its cells once, so an
 * update costs a property read and an addition.
 */
export function instrumentEngines(factory: EngineFactory, metrics: Metrics): EngineFactory {
  return {
    name: factory.name,
    create(context) {
      const session = context.session;
      const cell = (family: CounterFamily<string>, labels: Readonly<Record<string, string>>): Cell => family.cell(withSession(metrics, session, labels));
      const connects = cell(metrics.engineConnects, {});
      const reconnects = cell(metrics.engineReconnects, {});
      const received = {
        presence: { contact: cell(metrics.presenceReceived, { kind: 'presence', chat: 'contact' }), group: cell(metrics.presenceReceived, { kind: 'presence', chat: 'group' }) },
        chatstate: { contact: cell(metrics.presenceReceived, { kind: 'chatstate', chat: 'contact' }), group: cell(metrics.presenceReceived, { kind: 'chatstate', chat: 'group' }) },
      };
      const sent = new Map<string, Cell>(PRESENCES.map((presence) => [presence, cell(metrics.presenceSent, { presence })]));
      const subscribeOk = cell(metrics.subscribesSent, { result: 'ok' });
      const subscribeError = cell(metrics.subscribesSent, { result: 'error' });
      let open = false;
      let closedOnce = false;
      const close = (reason: string): void => {
        if (!open) return;
        open = false;
        closedOnce = true;
        cell(metrics.engineCloses, { reason }).value += 1;
      };
      const observe = (event: EngineEvent): void => {
        if (event.type === 'presence') {
          const first = event.presences[0];
          const kind = first !== undefined && CHAT_STATES.has(first.lastKnownPresence) ? received.chatstate : received.presence;
          (event.chatId.endsWith('@g.us') ? kind.group : kind.contact).value += 1;
        } else if (event.type === 'status') {
          if (event.status === 'WORKING') {
            if (!open) {
              open = true;
              connects.value += 1;
              if (closedOnce) reconnects.value += 1;
            }
          } else {
            close(closeReason(event));
          }
        }
      };
      const engine: Engine = factory.create({
        ...context,
        emit: (event) => {
          observe(event);
          context.emit(event);
        },
      });
      const count = (presence: string): void => {
        const target = sent.get(presence);
        if (target !== undefined) target.value += 1;
      };
      return {
        start: () => engine.start(),
        async stop() {
          close('stopped');
          await engine.stop();
        },
        async logout() {
          close('logged_out');
          await engine.logout();
        },
        async setPresence(presence) {
          await engine.setPresence(presence);
          count(presence);
        },
        async setChatPresence(chatId, presence, options) {
          await engine.setChatPresence(chatId, presence, options);
          count(presence);
        },
        async subscribe(chatId) {
          try {
            await engine.subscribe(chatId);
          } catch (error) {
            subscribeError.value += 1;
            throw error;
          }
          subscribeOk.value += 1;
        },
        requestPairingCode: (phoneNumber) => engine.requestPairingCode(phoneNumber),
      } satisfies Engine;
    },
  };
}

import type { EventPublisher } from '../events/publisher.js';
import type { Hub, HubClient } from '../events/hub.js';
import { CLOSE_TOO_SLOW } from '../events/hub.js';
import type { Cell } from './cells.js';
import type { Metrics } from './metrics.js';
import { withSession } from './metrics.js';

/**
 * Counts the events the publisher accepted, by type (after the accept: a rejected publish is the
 * publisher's error, logged by the session layer). Without per-session labels the cells are bound
 * once; with them, once per session.
 */
export function instrumentPublisher(publisher: EventPublisher, metrics: Metrics): EventPublisher {
  // One map per session (a single one without session labels), filled as event types are first seen.
  const cells = new Map<string, Map<string, Cell>>();
  const cellOf = (session: string, event: string): Cell => {
    const key = metrics.sessionLabels ? session : '';
    let byEvent = cells.get(key);
    if (byEvent === undefined) {
      byEvent = new Map();
      cells.set(key, byEvent);
    }
    let cell = byEvent.get(event);
    if (cell === undefined) {
      cell = metrics.eventsPublished.cell(withSession(metrics, session, { event }));
      byEvent.set(event, cell);
    }
    return cell;
  };
  return {
    async publish(envelope, webhooks) {
      await publisher.publish(envelope, webhooks);
      cellOf(envelope.session, envelope.event).value += 1;
    },
  };
}

/** Counts the WebSocket clients the hub closes for reading too slowly; the client count is read at scrape time. */
export function instrumentHub(hub: Hub, metrics: Metrics): Hub {
  const drops = metrics.websocketDrops.cell({});
  return {
    subscribe(filter, client) {
      const counted: HubClient = {
        send: (data) => client.send(data),
        get bufferedAmount() {
          return client.bufferedAmount;
        },
        close(code, reason) {
          if (code === CLOSE_TOO_SLOW) drops.value += 1;
          client.close(code, reason);
        },
      };
      return hub.subscribe(filter, counted);
    },
    publish: (session, event, body) => hub.publish(session, event, body),
    size: () => hub.size(),
  };
}

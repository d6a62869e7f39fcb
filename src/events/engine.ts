import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { OutboxStore } from '../storage/outbox.js';
import { SERVER_VERSION } from './envelope.js';
import { wahaEnvironment } from './environment.js';
import type { WahaEnvironment } from './environment.js';
import type { Hub } from './hub.js';
import { createHub } from './hub.js';
import { createOutboxPublisher } from './outbox-publisher.js';
import type { EventPublisher } from './publisher.js';
import type { DeliveryWorker, WorkerOptions } from './worker.js';
import type { Clock } from '../clock.js';
import { createDeliveryWorker } from './worker.js';

/** Everything the events area gives the app: where events go in, and the parts to start and stop. */
export interface Events {
  /** Hand this to the session manager. */
  readonly publisher: EventPublisher;
  /** Give this to the WebSocket route. */
  readonly hub: Hub;
  readonly worker: DeliveryWorker;
  /** This server's `environment`, in every envelope it builds (session events, test events). */
  readonly environment: WahaEnvironment;
  /** Resumes pending deliveries (after a restart too) and sends new ones until `stop`. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EventsOptions {
  readonly config: Pick<Config, 'hook' | 'outboxMaxPending' | 'serverId'>;
  readonly outbox: OutboxStore;
  readonly logger: Logger;
  /** Overrides for the worker (timeouts, concurrency, clock…); tests and benchmarks use them. */
  readonly worker?: Partial<Omit<WorkerOptions, 'outbox' | 'owner' | 'logger' | 'maxPending' | 'clock'>>;
  /** The server's clock: the worker's timers and the accept times. */
  readonly clock?: Clock;
}

export function createEvents(options: EventsOptions): Events {
  const logger = options.logger.child({ area: 'events' });
  const hub = createHub();
  const worker = createDeliveryWorker({
    ...options.worker,
    outbox: options.outbox,
    owner: options.config.serverId,
    logger,
    maxPending: options.config.outboxMaxPending,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const publisher = createOutboxPublisher({ outbox: options.outbox, hub, globalHook: options.config.hook, wake: (keys) => worker.wake(keys), handOff: worker, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  const environment = wahaEnvironment(SERVER_VERSION, options.config.serverId);
  return { publisher, hub, worker, environment, start: () => worker.start(), stop: () => worker.stop() };
}

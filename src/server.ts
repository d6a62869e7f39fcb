import { join } from 'node:path';
import { hostname } from 'node:os';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createCluster } from './cluster/index.js';
import type { Cluster } from './cluster/index.js';
import type { Config } from './config.js';
import type { EngineFactory } from './engines/engine.js';
import { createNowebEngineFactory } from './engines/noweb/index.js';
import type { NowebNetwork } from './engines/noweb/index.js';
import { createEvents } from './events/engine.js';
import type { Events, EventsOptions } from './events/engine.js';
import type { EventPublisher } from './events/publisher.js';
import { createSessionEvents } from './events/session-events.js';
import { buildHttp } from './http/app.js';
import type { Http, RouteRegistrar } from './http/app.js';
import { registerForwarding } from './http/forward.js';
import { dashboardRoutes } from './http/routes/dashboard.js';
import { deliveriesRoutes } from './http/routes/deliveries.js';
import { wsRoutes } from './http/routes/ws.js';
import { SANDBOX_ROOT_PUBLIC_KEY, sandboxAdminRoutes, startSandbox } from './sandbox/index.js';
import type { Sandbox } from './sandbox/index.js';
import { createHistoryRecorder } from './sessions/history-recorder.js';
import type { HistoryRecorder } from './sessions/history-recorder.js';
import { createRetentionJob } from './sessions/history-retention.js';
import { createSessionManager } from './sessions/manager.js';
import type { SessionManager, SessionOwnership } from './sessions/manager.js';
import { DEFAULT_RENEWAL_POLICY } from './sessions/renewal.js';
import { openStorage } from './storage/index.js';
import { openPostgresClusterStores } from './storage/postgres/cluster.js';
import { SERVER_VERSION } from './events/envelope.js';
import { API_KEY_SETTING } from './http/api-key.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { deliveryObserver } from './metrics/delivery.js';
import { instrumentEngines } from './metrics/engine.js';
import { clusterMetrics } from './metrics/cluster.js';
import { registerGauges } from './metrics/gauges.js';
import { createMetrics } from './metrics/metrics.js';
import type { Metrics } from './metrics/metrics.js';
import { instrumentHub, instrumentPublisher } from './metrics/publisher.js';
import { createReadiness } from './metrics/readiness.js';
import type { Readiness } from './metrics/readiness.js';
import { renewalObserver } from './metrics/renewal.js';
import { instrumentStorage } from './metrics/storage.js';
import type { Storage } from './storage/index.js';

/** What tests, the e2e test and the benchmarks replace; everything else is built from the config. */
export interface ServerOverrides {
  readonly logger?: Logger;
  /** Used instead of opening the configured one; the caller closes it (`close` leaves it open). */
  readonly storage?: Storage;
  /** Used instead of the NOWEB engine (a fake engine, a NOWEB engine with short reconnect delays). */
  readonly engines?: EngineFactory;
  /** Receives the sessions' events instead of the outbox publisher (a recording double); the events area is still built for its routes. */
  readonly publisher?: EventPublisher;
  /** The one clock every part reads and waits with (tests: one whose sleep does not wait). */
  readonly clock?: Clock;
  /** The delivery worker's options (timeouts, poll period, concurrency). */
  readonly worker?: EventsOptions['worker'];
  /** Several servers: a shorter heartbeat and stall bound, a forwarding timeout (tests). */
  readonly cluster?: { readonly heartbeatMs?: number; readonly stallBoundMs?: number; readonly forwardTimeoutMs?: number };
  /** Where `start` listens instead of `config.host` / `config.port` (tests: 127.0.0.1:0). */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Which server runs which session, without a cluster (tests of the session layer's side of several servers). */
  readonly ownership?: SessionOwnership;
  /** More routes behind the API key, after every built-in one. */
  readonly routes?: readonly RouteRegistrar[];
  /** Tests read the registry they pass (default: one of this server's own when WA_PRESENCE_METRICS is on). */
  readonly metrics?: Metrics;
  /** Tests drive readiness themselves. */
  readonly readiness?: Readiness;
}

/** The whole server, built and not yet listening. */
export interface Server {
  readonly config: Config;
  readonly logger: Logger;
  readonly http: FastifyInstance;
  readonly apiKey: string;
  readonly routes: Http['routes'];
  readonly storage: Storage;
  readonly sessions: SessionManager;
  readonly events: Events;
  /** Presence history's recorder (its background writes: `flush` waits for them). */
  readonly history: HistoryRecorder;
  /** Null on one server (SQLite, or PostgreSQL without several servers is not a mode: PostgreSQL means a cluster). */
  readonly cluster: Cluster | null;
  /** The embedded sandbox network (`--sandbox`), else null. */
  readonly sandbox: Sandbox | null;
  /** `GET /health/ready`'s state: 503 until `start` has finished and from the moment `close` begins. */
  readonly readiness: Readiness;
  /** This server's metrics registry, null with WA_PRESENCE_METRICS=false. */
  readonly metrics: Metrics | null;
  /** Starts the delivery worker, listens, then resumes the sessions (one server) or joins the cluster. Resolves with the address. */
  start(): Promise<string>;
  /**
   * SIGTERM's path, in order: take no more sessions, stop accepting requests and stop the engines
   * (their last status events still reach the outbox), hand the leases back, stop the delivery
   * worker, the sandbox, and close the storage last (only when this server opened it).
   */
  close(): Promise<void>;
}

/**
 * The composition root: storage, engines, events, cluster, sessions, sandbox and HTTP, in that
 * order, and the start and shutdown order. src/main.ts, the tests, the e2e test and the benchmarks
 * all build the server here.
 */
export async function createServer(config: Config, overrides: ServerOverrides = {}): Promise<Server> {
  const logger = overrides.logger ?? pino({ level: config.logLevel, ...(config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty' } } : {}) });
  // The first line says what this process is, before anything can fail slowly.
  logger.info(
    { version: SERVER_VERSION, storage: config.databaseUrl === null ? 'sqlite' : 'postgres', network: config.sandbox.kind === 'off' ? 'whatsapp' : 'sandbox', metrics: config.metrics },
    'wa-presence starting',
  );
  const clock = overrides.clock ?? systemClock;
  const metrics = overrides.metrics ?? (config.metrics ? createMetrics({ sessionLabels: config.metricsSessionLabels }) : null);
  const ownsStorage = overrides.storage === undefined;
  const opened =
    overrides.storage ??
    (await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, schema: config.databaseSchema, logger: logger.child({ area: 'storage' }), clock }));
  const storage = metrics === null ? opened : instrumentStorage(opened, metrics);

  let sandbox: Sandbox | null = null;
  let network: NowebNetwork = { kind: 'whatsapp' };
  if (config.sandbox.kind === 'embedded') {
    // The embedded network outlives this server as WhatsApp's does: its world is kept in the data
    // directory. Its own port carries only the WebSocket; the admin API is served under /api/sandbox
    // with the API key, and auto-pairing scans in process.
    const embedded = await startSandbox({ autoPair: config.sandbox.autoPair, logger, adminApi: false, dataDir: join(config.dataDir, 'sandbox') });
    sandbox = embedded;
    network = {
      kind: 'sandbox',
      url: embedded.url,
      rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY,
      autoPair: config.sandbox.autoPair,
      scan: (qr: string) => embedded.network.scan({ qr }),
    };
    logger.warn({ sandbox: sandbox.url }, 'SANDBOX MODE: sessions connect to the local sandbox network, not to WhatsApp');
  } else if (config.sandbox.kind === 'remote') {
    network = { kind: 'sandbox', url: config.sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: config.sandbox.autoPair };
    logger.warn({ sandbox: config.sandbox.url }, 'SANDBOX MODE: sessions connect to a sandbox network, not to WhatsApp');
  }
  const bareEngines = overrides.engines ?? createNowebEngineFactory({ network, logger, clock });
  const engines = metrics === null ? bareEngines : instrumentEngines(bareEngines, metrics);

  // A caller's attempt observer (a benchmark's) runs beside the metrics', not instead of it.
  const observeMetrics = metrics === null ? undefined : deliveryObserver(metrics, clock);
  const observeCaller = overrides.worker?.onAttempt;
  const onAttempt: NonNullable<EventsOptions['worker']>['onAttempt'] =
    observeMetrics === undefined || observeCaller === undefined
      ? (observeMetrics ?? observeCaller)
      : (delivery, outcome) => {
          observeMetrics(delivery, outcome);
          observeCaller(delivery, outcome);
        };
  const worker = {
    ...(config.deliveryLeaseMs === null ? {} : { leaseMs: config.deliveryLeaseMs }),
    ...overrides.worker,
    ...(onAttempt === undefined ? {} : { onAttempt }),
  };
  const events = createEvents({ config, outbox: storage.outbox, logger, clock, ...(Object.keys(worker).length === 0 ? {} : { worker }) });

  // PostgreSQL means possibly several servers: each runs the sessions it holds a lease for
  // (src/cluster). The cluster is built first (the session manager claims through it) and is
  // handed the session manager when it starts.
  const clusterTuning = overrides.cluster ?? {};
  const observed = clusterMetrics(metrics, clock);
  const cluster: Cluster | null =
    config.databaseUrl === null
      ? null
      : createCluster({
          config,
          storage,
          stores: openPostgresClusterStores({ url: config.databaseUrl, schema: config.databaseSchema, logger: logger.child({ area: 'cluster' }) }),
          logger,
          observer: observed.observer,
          clock,
          ...(clusterTuning.heartbeatMs === undefined ? {} : { heartbeatMs: clusterTuning.heartbeatMs }),
          ...(clusterTuning.stallBoundMs === undefined ? {} : { stallBoundMs: clusterTuning.stallBoundMs }),
        });
  // With several servers, WebSocket clients of any server get every session's events (those the
  // outbox accepted: a publisher override has no relay).
  const relay = overrides.publisher === undefined ? (cluster?.relayEvents(events.hub) ?? null) : null;
  const basePublisher = overrides.publisher ?? events.publisher;
  const relayed = relay === null ? basePublisher : relay.wrap(basePublisher);
  const hub = metrics === null ? events.hub : instrumentHub(events.hub, metrics);

  const history = createHistoryRecorder({ store: storage.history, defaults: { enabled: config.presenceHistory, retentionDays: config.presenceHistoryRetentionDays }, logger, clock });
  const retention = createRetentionJob({
    store: storage.history,
    configOf: async (session) => (await storage.sessions.get(session))?.config ?? null,
    retentionDays: (sessionConfig) => history.retentionDays(sessionConfig),
    logger,
    clock,
  });
  const sessions = createSessionManager({
    history,
    storage,
    engines,
    // The sessions say what happened; the events area builds WAHA's envelope and routes it.
    events: createSessionEvents({ publisher: metrics === null ? relayed : instrumentPublisher(relayed, metrics), environment: events.environment, clock }),
    logger,
    renewal: { ...DEFAULT_RENEWAL_POLICY, ratePerSecond: config.renewalRatePerSecond },
    startConcurrency: config.startConcurrency,
    clock,
    ...(metrics === null ? {} : { onRenewal: renewalObserver(metrics) }),
    ...(cluster !== null ? { ownership: cluster.sessionOwnership } : overrides.ownership === undefined ? {} : { ownership: overrides.ownership }),
  });

  // Route order: forwarding first (a request for a session run elsewhere goes there), then the
  // events area's routes, the sandbox admin API, and whatever the caller adds.
  const routes: RouteRegistrar[] = [];
  if (cluster !== null) {
    const forwarded = metrics?.forwardedRequests.cell({}) ?? { value: 0 };
    // The forwarding hook sends a request on exactly when the owner is another server.
    const locator = {
      self: cluster.locator.self,
      ownerOf: async (session: string) => {
        const owner = await cluster.locator.ownerOf(session);
        if (owner !== null && owner.id !== cluster.locator.self) forwarded.value += 1;
        return owner;
      },
      placeOf: async () => {
        const placed = (await cluster.locator.placeOf?.()) ?? null;
        if (placed !== null && placed.id !== cluster.locator.self) forwarded.value += 1;
        return placed;
      },
    };
    routes.push((scope) => {
      registerForwarding(scope, { locator, ...(clusterTuning.forwardTimeoutMs === undefined ? {} : { timeoutMs: clusterTuning.forwardTimeoutMs }) });
      return Promise.resolve();
    });
  }
  routes.push(wsRoutes({ hub }));
  if (metrics !== null) routes.push(metricsRoutes({ registry: metrics.registry }));
  routes.push(deliveriesRoutes({ outbox: storage.outbox, sessions: storage.sessions, wake: () => events.worker.wake(), clock }));
  const embedded = sandbox;
  if (embedded !== null) {
    routes.push(async (scope) => {
      await scope.register(sandboxAdminRoutes, { network: embedded.network });
    });
  }
  // The dashboard: its shell and assets are open (the sign-in form), its API behind the key.
  const dashboard = dashboardRoutes({ config, hub: events.hub, clock, testEvents: { outbox: storage.outbox, sessions: storage.sessions, environment: events.environment, wake: () => events.worker.wake(), clock } });
  routes.push(dashboard.protected);
  routes.push(...(overrides.routes ?? []));
  // Migrations ran inside openStorage: a server that got here has its schema.
  const readiness = overrides.readiness ?? createReadiness({
    migrated: () => true,
    ping: async () => void (await storage.settings.get(API_KEY_SETTING)),
    ...(config.databaseUrl === null ? {} : { renewerAlive: () => observed.renewerAlive(config.leaseTtlMs) }),
  });
  const http = await buildHttp({
    config,
    storage,
    sessions,
    logger,
    routes,
    readiness,
    history,
    clock,
    publicRoutes: [dashboard.public],
    // After the engines, the history's last writes; the retention job stops with them.
    onClose: async () => {
      await sessions.shutdown();
      await retention.stop();
      await history.close();
    },
  });
  if (metrics !== null) {
    registerGauges(metrics, {
      sessions: () => sessions.list(true),
      subscriptions: storage.subscriptions,
      outbox: storage.outbox,
      hub: events.hub,
      dropped: () => events.worker.stats().dropped,
      ...(cluster === null ? {} : { leasesHeld: () => cluster.ownership.held().length }),
      clock,
    });
  }

  let closing: Promise<void> | null = null;
  return {
    config,
    logger,
    http: http.server,
    apiKey: http.apiKey,
    routes: http.routes,
    storage,
    sessions,
    events,
    history,
    cluster,
    sandbox,
    readiness,
    metrics,

    async start() {
      await events.start();
      const listen = overrides.listen ?? { host: config.host, port: config.port };
      const address = await http.server.listen(listen);
      if (cluster === null) {
        await sessions.resume({ startSessions: config.startSessions, restartAll: config.restartAllSessions });
      } else {
        await relay?.start();
        // The ownership loop detaches exactly the sessions whose lease it lost.
        const local = {
          start: (session: string) => sessions.start(session),
          detach: (session: string) => (observed.lost(), sessions.detach(session)),
          hasEngine: (session: string) => sessions.hasEngine(session),
          // Rebalancing moves only a session that is up: never one pairing or starting.
          movable: async (session: string) => sessions.hasEngine(session) && (await sessions.get(session)).status === 'WORKING',
        };
        await cluster.start(config.advertiseUrl ?? advertisedUrl(address, listen.host), config.startSessions, local);
      }
      retention.start();
      readiness.markStarted();
      const base = config.baseUrl ?? address;
      logger.info({ address, docs: `${base}/`, dashboard: `${base}/dashboard`, metrics: config.metrics ? `${base}/metrics` : null, ready: `${base}/health/ready` }, 'wa-presence ready');
      return address;
    },

    close() {
      closing ??= (async () => {
        readiness.markStopping();
        // A load balancer's checks see /health/ready fail while requests are still served.
        if (config.shutdownDrainMs > 0) await clock.sleep(config.shutdownDrainMs);
        await cluster?.stopHeartbeat();
        await http.server.close();
        await cluster?.close();
        await events.stop();
        await sandbox?.close();
        if (ownsStorage) await storage.close();
      })();
      return closing;
    },
  };
}

/** This server's base URL for the others: the listening address, the host name when it listens on every interface. */
function advertisedUrl(address: string, host: string): string {
  const url = new URL(address);
  if (host === '0.0.0.0' || host === '::') url.hostname = hostname();
  return url.origin;
}

import { hostname } from 'node:os';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import type { App, RouteRegistrar } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import type { Config } from './config.js';
import { createNowebEngineFactory } from './engines/noweb/index.js';
import type { NowebNetwork } from './engines/noweb/index.js';
import { createCluster } from './cluster/index.js';
import type { Cluster } from './cluster/index.js';
import { createEvents } from './events/engine.js';
import { registerForwarding } from './http/forward.js';
import { deliveriesRoutes } from './http/routes/deliveries.js';
import { wsRoutes } from './http/routes/ws.js';
import { SANDBOX_ROOT_PUBLIC_KEY, sandboxAdminRoutes, startSandbox } from './sandbox/index.js';
import type { Sandbox } from './sandbox/index.js';
import { openStorage } from './storage/index.js';
import { SERVER_VERSION } from './events/envelope.js';
import { API_KEY_SETTING } from './http/api-key.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { deliveryObserver } from './metrics/delivery.js';
import { instrumentEngines } from './metrics/engine.js';
import { clusterMetrics } from './metrics/cluster.js';
import { registerGauges } from './metrics/gauges.js';
import { createMetrics } from './metrics/metrics.js';
import { instrumentHub, instrumentPublisher } from './metrics/publisher.js';
import { createReadiness } from './metrics/readiness.js';
import { renewalObserver } from './metrics/renewal.js';
import { instrumentStorage } from './metrics/storage.js';
import type { StoredSession } from './storage/sessions.js';

/**
 * `npm start`: the presence server. With `--sandbox` (or WA_PRESENCE_SANDBOX=true) it also runs the
 * local sandbox WhatsApp network in the same process and talks only to it; with
 * WA_PRESENCE_SANDBOX=ws://… it talks to a sandbox started elsewhere (`npm run sandbox`).
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`wa-presence: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger: Logger = pino({
    level: config.logLevel,
    ...(config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty' } } : {}),
  });

  // The first line says what this process is, before anything can fail slowly.
  logger.info(
    { version: SERVER_VERSION, storage: config.databaseUrl === null ? 'sqlite' : 'postgres', network: config.sandbox.kind === 'off' ? 'whatsapp' : 'sandbox', metrics: config.metrics },
    'wa-presence starting',
  );
  const metrics = config.metrics ? createMetrics({ sessionLabels: config.metricsSessionLabels }) : null;
  const opened = await openStorage({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    schema: config.databaseSchema,
    logger: logger.child({ area: 'storage' }),
  });
  const storage = metrics === null ? opened : instrumentStorage(opened, metrics);
  let sandbox: Sandbox | null = null;
  let network: NowebNetwork = { kind: 'whatsapp' };
  if (config.sandbox.kind === 'embedded') {
    sandbox = await startSandbox({ autoPair: config.sandbox.autoPair, logger });
    network = { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: config.sandbox.autoPair };
    logger.warn({ sandbox: sandbox.url }, 'SANDBOX MODE: sessions connect to the local sandbox network, not to WhatsApp');
  } else if (config.sandbox.kind === 'remote') {
    network = { kind: 'sandbox', url: config.sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: config.sandbox.autoPair };
    logger.warn({ sandbox: config.sandbox.url }, 'SANDBOX MODE: sessions connect to a sandbox network, not to WhatsApp');
  }

  const noweb = createNowebEngineFactory({ network, logger });
  const engines = metrics === null ? noweb : instrumentEngines(noweb, metrics);
  const events = createEvents({
    config,
    outbox: storage.outbox,
    logger,
    worker: {
      ...(config.deliveryLeaseMs === null ? {} : { leaseMs: config.deliveryLeaseMs }),
      ...(metrics === null ? {} : { onAttempt: deliveryObserver(metrics) }),
    },
  });
  const hub = metrics === null ? events.hub : instrumentHub(events.hub, metrics);
  const routes: RouteRegistrar[] = [
    wsRoutes({ hub }),
    deliveriesRoutes({ outbox: storage.outbox, sessions: storage.sessions, wake: () => events.worker.wake() }),
  ];
  if (metrics !== null) routes.push(metricsRoutes({ registry: metrics.registry }));
  // Migrations ran inside openStorage: a server that got here has its schema.
  const observed = clusterMetrics(metrics);
  const readiness = createReadiness({
    migrated: () => true,
    ping: async () => void (await storage.settings.get(API_KEY_SETTING)),
    ...(config.databaseUrl === null ? {} : { renewerAlive: () => observed.renewerAlive(config.leaseTtlMs) }),
  });
  const embedded = sandbox;
  if (embedded !== null) {
    routes.push(async (scope) => {
      await scope.register(sandboxAdminRoutes, { network: embedded.network });
    });
  }
  // PostgreSQL means possibly several servers: each runs the sessions it holds a lease for
  // (src/cluster). The manager is built after the cluster, so the cluster reaches it lazily.
  let app: App | null = null;
  const managerOf = (): App['sessions'] => {
    if (app === null) throw new Error('the session manager is not built yet');
    return app.sessions;
  };
  const cluster: Cluster | null =
    config.databaseUrl === null
      ? null
      : createCluster({
          config,
          storage,
          logger,
          local: {
            start: (session) => managerOf().start(session),
            // The ownership loop detaches exactly the sessions whose lease it lost.
            detach: (session) => {
              observed.lost();
              return managerOf().detach(session);
            },
            hasEngine: (session) => app !== null && app.sessions.hasEngine(session),
          },
          observer: observed.observer,
        });
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
    };
    routes.unshift((scope) => {
      registerForwarding(scope, { locator });
      return Promise.resolve();
    });
  }
  // With several servers, WebSocket clients of any server get every session's events.
  const relay = cluster?.relayEvents(events.hub) ?? null;
  const built = await buildApp({
    config,
    storage,
    engines,
    publisher: ((published) => (metrics === null ? published : instrumentPublisher(published, metrics)))(relay === null ? events.publisher : relay.wrap(events.publisher)),
    logger,
    routes,
    readiness,
    ...(metrics === null ? {} : { onRenewal: renewalObserver(metrics) }),
    ...(cluster === null ? {} : { claim: (session: string) => cluster.claim(session), sharedStatuses: (sessions: readonly StoredSession[]) => cluster.sharedStatuses(sessions) }),
  });
  app = built;
  if (metrics !== null) {
    registerGauges(metrics, {
      sessions: () => built.sessions.list(true),
      subscriptions: storage.subscriptions,
      outbox: storage.outbox,
      hub: events.hub,
      dropped: () => events.worker.stats().dropped,
      ...(cluster === null ? {} : { leasesHeld: () => cluster.ownership.held().length }),
    });
  }
  await events.start();
  const address = await built.server.listen({ host: config.host, port: config.port });
  if (cluster === null) {
    await built.sessions.resume({ startSessions: config.startSessions, restartAll: config.restartAllSessions });
  } else {
    await relay?.start();
    await cluster.start(config.advertiseUrl ?? advertisedUrl(address, config.host), config.startSessions);
  }
  readiness.markStarted();
  const base = config.baseUrl ?? address;
  logger.info({ address, docs: `${base}/`, dashboard: `${base}/dashboard`, metrics: config.metrics ? `${base}/metrics` : null, ready: `${base}/health/ready` }, 'wa-presence ready');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: no new requests, stopping engines');
    // Order matters: stop accepting and stop the engines (their last status events still reach
    // the outbox), then the delivery worker, the sandbox, and the database last.
    // With several servers: take no more sessions, stop the engines, then hand the leases back
    // at once so that the others take the sessions over without waiting for expiry.
    readiness.markStopping();
    const shutdown = async (): Promise<void> => {
      // A load balancer's checks see /health/ready fail while requests are still served.
      if (config.shutdownDrainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
      await cluster?.stopHeartbeat();
      await built.server.close();
      await cluster?.close();
      await events.stop();
      await sandbox?.close();
      await storage.close();
    };
    shutdown().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** This server's base URL for the others: the listening address, the host name when it listens on every interface. */
function advertisedUrl(address: string, host: string): string {
  const url = new URL(address);
  if (host === '0.0.0.0' || host === '::') url.hostname = hostname();
  return url.origin;
}

main().catch((error: unknown) => {
  process.stderr.write(`wa-presence failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

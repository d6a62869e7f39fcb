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
import { dashboardRoutes } from './http/routes/dashboard.js';
import { deliveriesRoutes } from './http/routes/deliveries.js';
import { wsRoutes } from './http/routes/ws.js';
import { SANDBOX_ROOT_PUBLIC_KEY, sandboxAdminRoutes, startSandbox } from './sandbox/index.js';
import type { Sandbox } from './sandbox/index.js';
import { openStorage } from './storage/index.js';
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

  const storage = await openStorage({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    schema: config.databaseSchema,
    logger: logger.child({ area: 'storage' }),
  });
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

  const engines = createNowebEngineFactory({ network, logger });
  const events = createEvents({
    config,
    outbox: storage.outbox,
    logger,
    ...(config.deliveryLeaseMs === null ? {} : { worker: { leaseMs: config.deliveryLeaseMs } }),
  });
  const routes: RouteRegistrar[] = [
    wsRoutes({ hub: events.hub }),
    deliveriesRoutes({ outbox: storage.outbox, sessions: storage.sessions, wake: () => events.worker.wake() }),
  ];
  const dashboard = dashboardRoutes({ config, hub: events.hub, testEvents: { outbox: storage.outbox, sessions: storage.sessions, wake: () => events.worker.wake() } });
  routes.push(dashboard.protected);
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
            detach: (session) => managerOf().detach(session),
            hasEngine: (session) => app !== null && app.sessions.hasEngine(session),
          },
        });
  if (cluster !== null) {
    const locator = cluster.locator;
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
    publisher: relay === null ? events.publisher : relay.wrap(events.publisher),
    logger,
    routes,
    publicRoutes: [dashboard.public],
    ...(cluster === null ? {} : { claim: (session: string) => cluster.claim(session), sharedStatuses: (sessions: readonly StoredSession[]) => cluster.sharedStatuses(sessions) }),
  });
  app = built;
  await events.start();
  const address = await built.server.listen({ host: config.host, port: config.port });
  if (cluster === null) {
    await built.sessions.resume({ startSessions: config.startSessions, restartAll: config.restartAllSessions });
  } else {
    await relay?.start();
    await cluster.start(config.advertiseUrl ?? advertisedUrl(address, config.host), config.startSessions);
  }

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
    const shutdown = async (): Promise<void> => {
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

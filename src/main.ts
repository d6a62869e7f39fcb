import { pino } from 'pino';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import type { RouteRegistrar } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import type { Config } from './config.js';
import { createNowebEngineFactory } from './engines/noweb/index.js';
import type { NowebNetwork } from './engines/noweb/index.js';
import { createEvents } from './events/engine.js';
import { deliveriesRoutes } from './http/routes/deliveries.js';
import { wsRoutes } from './http/routes/ws.js';
import { SANDBOX_ROOT_PUBLIC_KEY, sandboxAdminRoutes, startSandbox } from './sandbox/index.js';
import type { Sandbox } from './sandbox/index.js';
import { openStorage } from './storage/index.js';

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

  const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger: logger.child({ area: 'storage' }) });
  let sandbox: Sandbox | null = null;
  let network: NowebNetwork = { kind: 'whatsapp' };
  if (config.sandbox.kind === 'embedded') {
    sandbox = await startSandbox({ autoPair: config.sandbox.autoPair, logger });
    network = { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY };
    logger.warn({ sandbox: sandbox.url }, 'SANDBOX MODE: sessions connect to the local sandbox network, not to WhatsApp');
  } else if (config.sandbox.kind === 'remote') {
    network = { kind: 'sandbox', url: config.sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY };
    logger.warn({ sandbox: config.sandbox.url }, 'SANDBOX MODE: sessions connect to a sandbox network, not to WhatsApp');
  }

  const engines = createNowebEngineFactory({ network, logger });
  const events = createEvents({ config, outbox: storage.outbox, logger });
  const routes: RouteRegistrar[] = [
    wsRoutes({ hub: events.hub }),
    deliveriesRoutes({ outbox: storage.outbox, sessions: storage.sessions, wake: () => events.worker.wake() }),
  ];
  const embedded = sandbox;
  if (embedded !== null) {
    routes.push(async (scope) => {
      await scope.register(sandboxAdminRoutes, { network: embedded.network });
    });
  }
  const app = await buildApp({ config, storage, engines, publisher: events.publisher, logger, routes });
  await events.start();
  await app.server.listen({ host: config.host, port: config.port });
  await app.sessions.resume({ startSessions: config.startSessions, restartAll: config.restartAllSessions });

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
    const shutdown = async (): Promise<void> => {
      await app.server.close();
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

main().catch((error: unknown) => {
  process.stderr.write(`wa-presence failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

import { ConfigError, loadConfig } from './config.js';
import type { Config } from './config.js';
import { createServer } from './server.js';

/**
 * `npm start`: the presence server. With `--sandbox` (or WA_PRESENCE_SANDBOX=true) it also runs the
 * local sandbox WhatsApp network in the same process and talks only to it; with
 * WA_PRESENCE_SANDBOX=ws://… it talks to a sandbox started elsewhere (`npm run sandbox`).
 * The object graph and the start and shutdown order are src/server.ts's.
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
  const server = await createServer(config);
  const { logger } = server;
  await server.start();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: no new requests, stopping engines');
    server.close().then(
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

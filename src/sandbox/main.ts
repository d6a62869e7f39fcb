import { pino } from 'pino';
import { ConfigError, loadSandboxConfig } from '../config.js';
import { startSandbox } from './index.js';

/**
 * `npm run sandbox`: the sandbox WhatsApp network on its own port, for pointing other tools at it.
 * Configured by WA_PRESENCE_SANDBOX_HOST / _PORT / _AUTOPAIR / _CHATSTATE_TTL_MS / _DATA_DIR.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadSandboxConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`wa-presence sandbox: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({
    level: config.logLevel,
    ...(config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty' } } : {}),
  });
  const sandbox = await startSandbox({
    host: config.host,
    port: config.port,
    autoPair: config.autoPair,
    chatStateTtlMs: config.chatStateTtlMs,
    ...(config.dataDir === null ? {} : { dataDir: config.dataDir }),
    logger,
  });
  logger.info({ url: sandbox.url, adminUrl: sandbox.adminUrl, autoPair: config.autoPair }, 'sandbox WhatsApp network started');
  process.stdout.write(`sandbox WebSocket: ${sandbox.url}\nsandbox admin API: ${sandbox.adminUrl}/api/sandbox\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'sandbox stopping');
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'sandbox did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`wa-presence sandbox failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});

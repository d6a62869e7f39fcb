import type { Logger } from 'pino';
import type { UserFacingSocketConfig } from 'baileys';

/** The logger interface Baileys takes (its `ILogger`, which the package does not export by name). */
export type BaileysLogger = NonNullable<UserFacingSocketConfig['logger']>;

const PINO_LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/**
 * Whether a Baileys error log is the `<stream:error code="515"/>` WhatsApp sends right after a
 * pairing (restart required): the expected end of every pairing, not a failure. Baileys logs every
 * stream error as `error({ reasonNode, fullErrorNode }, 'stream errored out')`.
 */
export function isExpectedRestart(fields: unknown, msg: string | undefined): boolean {
  if (msg !== 'stream errored out' || typeof fields !== 'object' || fields === null) return false;
  const node = (fields as { fullErrorNode?: { attrs?: Record<string, unknown> } }).fullErrorNode;
  return node?.attrs?.code === '515';
}

/**
 * Routes Baileys' error logs through `isExpectedRestart`; its child loggers are wrapped the same way.
 * The restart goes to `ours` (our level), since `logger` is kept at warn and would drop a debug line.
 */
function filtered(logger: Logger, ours: Logger): BaileysLogger {
  return {
    get level() {
      return logger.level;
    },
    child: (bindings) => filtered(logger.child(bindings), ours.child(bindings)),
    trace: (obj, msg) => logger.trace(obj, msg),
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => {
      if (isExpectedRestart(obj, msg)) ours.debug(obj, 'stream restart required after pairing (515), as expected');
      else logger.error(obj, msg);
    },
  };
}

/**
 * The logger handed to Baileys: a child of ours tagged `module: baileys`, kept at warn unless ours is
 * quieter still (Baileys logs a lot at info), with the expected 515 after pairing moved to debug.
 */
export function baileysLogger(logger: Logger): BaileysLogger {
  const parent = PINO_LEVELS[logger.level] ?? Number.POSITIVE_INFINITY;
  const level = parent > (PINO_LEVELS.warn ?? 40) ? logger.level : 'warn';
  return filtered(logger.child({ module: 'baileys' }, { level }), logger.child({ module: 'baileys' }));
}

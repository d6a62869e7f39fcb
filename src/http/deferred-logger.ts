import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level } from 'pino';

type LogCall = (...args: unknown[]) => void;
type Method = Level | 'silent';
/** What pino's loggers have beyond Fastify's minimum. */
type PinoChild = FastifyBaseLogger & { setBindings?: (bindings: Bindings) => void; bindings?: () => Bindings };

/**
 * A request's logger that becomes a real pino child only when something is written through it.
 *
 * Fastify makes a pino child per request (for its `reqId`), and most requests never log: at the
 * default level a presence read writes nothing. bench/reads.ts measured that child (the bindings
 * serialised to a string, a new prototype object) as about half of what a presence read cost
 * beyond a bare Fastify route. Until the first line at an enabled level, this holds only the
 * bindings; `setBindings` before then adds to them.
 */
class DeferredChild {
  #real: PinoChild | null = null;
  #bindings: Bindings;
  readonly #parent: FastifyBaseLogger;
  readonly #options: ChildLoggerOptions;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get level(): string {
    return this.#real?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#materialise().level = level;
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    // A route's own level is known only to the real child: make it and ask.
    const asked = this.#real ?? (this.#options.level === undefined ? this.#parent : this.#materialise());
    const check = (asked as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
    return check === undefined ? true : check.call(asked, level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#materialise().child(bindings, options);
  }

  setBindings(bindings: Bindings): void {
    const real = this.#real;
    if (real === null) this.#bindings = { ...this.#bindings, ...bindings };
    else if (typeof real.setBindings === 'function') real.setBindings(bindings);
  }

  bindings(): Bindings {
    const real = this.#real;
    return real === null ? this.#bindings : (real.bindings?.() ?? this.#bindings);
  }

  #materialise(): PinoChild {
    this.#real ??= this.#parent.child(this.#bindings, this.#options);
    return this.#real;
  }

  #write(method: Method, args: unknown[]): void {
    if (this.#real === null && !this.isLevelEnabled(method)) return;
    const real = this.#materialise();
    const write: LogCall = real[method];
    write.apply(real, args);
  }
}

/** Fastify's `childLoggerFactory`: request loggers made when first written to. */
export function deferredChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new DeferredChild(logger, bindings, options);
}

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
  readonly #bindings: Bindings;
  /** What `setBindings` added before the real child exists. */
  #added: Bindings | null = null;
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
    if (real !== null) {
      if (typeof real.setBindings === 'function') real.setBindings(bindings);
    } else if (this.#added === null) this.#added = bindings;
    else this.#added = { ...this.#added, ...bindings };
  }

  bindings(): Bindings {
    const real = this.#real;
    return real === null ? this.#allBindings() : (real.bindings?.() ?? this.#allBindings());
  }

  /** Merged only when asked for: most requests set their session's binding and never log. */
  #allBindings(): Bindings {
    return this.#added === null ? this.#bindings : { ...this.#bindings, ...this.#added };
  }

  #materialise(): PinoChild {
    this.#real ??= this.#parent.child(this.#allBindings(), this.#options);
    return this.#real;
  }

  #write(method: Method, args: unknown[]): void {
    if (this.#real === null && !this.isLevelEnabled(method)) return;
    const real = this.#materialise();
    const write: LogCall = real[method];
    write.apply(real, args);
  }
}

/**
 * `logger` for Fastify's `loggerInstance`, its `child` deferred: Fastify then makes each request's
 * logger with its own default factory, which it trusts, instead of checking every child a custom
 * `childLoggerFactory` returns for its seven methods (an array and a closure per request). Every
 * other call goes to `logger` itself.
 */
export function deferringLogger(logger: FastifyBaseLogger): FastifyBaseLogger {
  const deferring = Object.create(logger) as FastifyBaseLogger;
  deferring.child = (bindings: Bindings, options?: ChildLoggerOptions) => new DeferredChild(logger, bindings, options ?? {});
  return deferring;
}

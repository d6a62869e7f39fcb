/** How `poll` waits. */
export interface PollOptions {
  /** Named in the failure message. */
  readonly what?: string;
  readonly timeoutMs: number;
  /** Pause between two reads. */
  readonly everyMs: number;
  /** 'retry': a read that throws is tried again (its error is reported at the timeout); 'throw' (default): it fails the poll at once. */
  readonly errors?: 'retry' | 'throw';
}

/**
 * Reads until `holds` is true of the value, and returns it; past the timeout, fails saying what was
 * last seen. The one polling helper of the tests: for state that has no push channel to the test.
 */
export async function poll<T>(read: () => Promise<T>, holds: (value: T) => boolean, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: T | undefined;
  let failure: unknown;
  for (;;) {
    try {
      last = await read();
      if (holds(last)) return last;
    } catch (error) {
      if (options.errors !== 'retry') throw error;
      failure = error;
    }
    if (Date.now() > deadline) {
      const what = options.what === undefined ? 'condition' : options.what;
      const why = failure instanceof Error ? ` ${failure.message}` : '';
      throw new Error(`${what}: not met within ${options.timeoutMs} ms; last value: ${JSON.stringify(last)}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs));
  }
}

/** `poll` for a synchronous condition. */
export async function until(what: string, holds: () => boolean, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  await poll(() => Promise.resolve(holds()), (held) => held, { what, timeoutMs, everyMs });
}

/** The statement timers' shared tally (sqlite-statements.ts, pg-statements.ts): time and calls per statement, printed at exit. */
const totals = new Map<string, { calls: number; ns: number }>();

/** Adds one call of `key` that began at `since` (`process.hrtime.bigint()`). */
export function record(key: string, since: bigint): void {
  const entry = totals.get(key) ?? { calls: 0, ns: 0 };
  entry.calls += 1;
  entry.ns += Number(process.hrtime.bigint() - since);
  totals.set(key, entry);
}

/** The 30 statements that took longest in all, to stderr. */
export function report(): void {
  const rows = [...totals].sort((a, b) => b[1].ns - a[1].ns).slice(0, 30);
  for (const [key, { calls, ns }] of rows) {
    process.stderr.write(`${(ns / 1e6).toFixed(0).padStart(7)} ms ${String(calls).padStart(8)} calls ${(ns / calls / 1e3).toFixed(1).padStart(7)} µs  ${key}\n`);
  }
}

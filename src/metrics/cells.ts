import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';

/**
 * A counter the hot path bumps as a plain number: `cell.value += 1`. prom-client's own
 * `counter.labels(…).inc()` hashes and validates the label set on every call; a cell is bound to
 * its labels once (when an engine or a webhook host is first seen) and copied into the registry's
 * counter only when Prometheus scrapes.
 */
export interface Cell {
  value: number;
}

export interface CounterFamily<L extends string> {
  /** The cell of one label set; built once per label set, then kept (callers keep it too). */
  cell(labels: Readonly<Record<L, string>>): Cell;
  /** A label set whose total someone else keeps (the delivery worker's drop count): read when scraped. */
  derive(labels: Readonly<Record<L, string>>, read: () => number): void;
}

export interface CounterSpec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

export function counterFamily<L extends string>(registry: Registry, spec: CounterSpec<L>): CounterFamily<L> {
  const cells = new Map<string, { labels: Readonly<Record<L, string>>; cell: Cell }>();
  const derived: { labels: Readonly<Record<L, string>>; read: () => number }[] = [];
  const counter = new Counter<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect() {
      // Totals only grow: setting the exposed value to the cell's total is a counter's semantics.
      this.reset();
      for (const { labels, cell } of cells.values()) this.inc(labels, cell.value);
      for (const { labels, read } of derived) this.inc(labels, read());
    },
  });
  void counter;
  return {
    cell(labels) {
      const key = spec.labelNames.map((name) => labels[name]).join('\u0000');
      let entry = cells.get(key);
      if (entry === undefined) {
        entry = { labels: { ...labels }, cell: { value: 0 } };
        cells.set(key, entry);
      }
      return entry.cell;
    },
    derive(labels, read) {
      derived.push({ labels: { ...labels }, read });
    },
  };
}

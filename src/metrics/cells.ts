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

/** A histogram series bound to its labels: `observe` finds the bucket and adds, nothing else. */
export interface HistogramCell {
  observe(value: number): void;
}

export interface HistogramFamily<L extends string> {
  cell(labels: Readonly<Record<L, string>>): HistogramCell;
}

export interface HistogramSpec<L extends string> extends CounterSpec<L> {
  /** Upper bounds, ascending (+Inf is added). */
  readonly buckets: readonly number[];
}

interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Per bucket, not cumulative (the last one is +Inf); made cumulative when scraped. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * prom-client's `histogram.labels(…).observe()` converts, validates and hashes the label set on
 * every call; a storage call is timed on every presence update, so its series are bound once and
 * exposed through the registry as a histogram when scraped (same text format, `le` first).
 */
export function histogramFamily<L extends string>(registry: Registry, spec: HistogramSpec<L>): HistogramFamily<L> {
  const series = new Map<string, HistogramSeries>();
  const bounds = [...spec.buckets];
  const metric = {
    name: spec.name,
    help: spec.help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const entry of series.values()) {
        let cumulative = 0;
        for (const [i, bound] of bounds.entries()) {
          cumulative += entry.counts[i] ?? 0;
          values.push({ labels: { le: bound, ...entry.labels }, value: cumulative, metricName: `${spec.name}_bucket` });
        }
        values.push({ labels: { le: '+Inf', ...entry.labels }, value: entry.count, metricName: `${spec.name}_bucket` });
        values.push({ labels: { ...entry.labels }, value: entry.sum, metricName: `${spec.name}_sum` });
        values.push({ labels: { ...entry.labels }, value: entry.count, metricName: `${spec.name}_count` });
      }
      return Promise.resolve({ name: spec.name, help: spec.help, type: 'histogram', values, aggregator: 'sum' });
    },
    reset() {
      series.clear();
    },
  };
  // The registry reads a metric through get() (name, help, type, values): this object is one, without prom-client's class.
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  return {
    cell(labels) {
      const key = spec.labelNames.map((name) => labels[name]).join('\u0000');
      let entry = series.get(key);
      if (entry === undefined) {
        entry = { labels: { ...labels }, counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 };
        series.set(key, entry);
      }
      const bound = entry;
      return {
        observe(value) {
          let i = 0;
          while (i < bounds.length && value > (bounds[i] ?? Infinity)) i += 1;
          bound.counts[i] = (bound.counts[i] ?? 0) + 1;
          bound.sum += value;
          bound.count += 1;
        },
      };
    },
  };
}

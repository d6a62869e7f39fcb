// @ts-check
import { useEffect, useState } from 'preact/hooks';

/**
 * A value that components follow: `use()` re-renders the caller when it changes.
 * @template T
 */
export class Store {
  /** @param {T} value */
  constructor(value) {
    this.value = value;
    /** @type {Set<(value: T) => void>} */
    this.listeners = new Set();
  }

  /** @param {T} value */
  set(value) {
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }

  /** @param {(value: T) => void} listener */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** @returns {T} */
  use() {
    const [, setTick] = useState(0);
    useEffect(() => this.subscribe(() => setTick((tick) => tick + 1)), []);
    return this.value;
  }
}

/** A clock that ticks every second, so relative times ("3 min ago") move by themselves. */
export const now = new Store(Date.now());
setInterval(() => now.set(Date.now()), 1000);

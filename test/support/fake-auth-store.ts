import type { AuthEntry, AuthStore } from '../../src/storage/auth.js';

/**
 * An in-memory `AuthStore` test double. It records every `set` call (one call = one transaction)
 * and can be told to fail the next write, so tests can prove that a failed write changes nothing.
 */
export class FakeAuthStore implements AuthStore {
  readonly data = new Map<string, string>();
  /** Every `set` call, in order: one element per transaction. */
  readonly transactions: AuthEntry[][] = [];
  clears = 0;
  private failNext: Error | null = null;

  failNextWrite(error: Error): void {
    this.failNext = error;
  }

  private static key(category: string, id: string): string {
    return `${category}\u0000${id}`;
  }

  get(category: string, ids: readonly string[]): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const id of ids) {
      const value = this.data.get(FakeAuthStore.key(category, id));
      if (value !== undefined) result[id] = value;
    }
    return Promise.resolve(result);
  }

  set(entries: readonly AuthEntry[]): Promise<void> {
    const failure = this.failNext;
    if (failure !== null) {
      this.failNext = null;
      return Promise.reject(failure);
    }
    this.transactions.push([...entries]);
    for (const entry of entries) {
      const key = FakeAuthStore.key(entry.category, entry.id);
      if (entry.value === null) this.data.delete(key);
      else this.data.set(key, entry.value);
    }
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.clears += 1;
    this.data.clear();
    return Promise.resolve();
  }

  /** Number of stored values of one category. */
  count(category: string): number {
    let n = 0;
    for (const key of this.data.keys()) if (key.startsWith(`${category}\u0000`)) n += 1;
    return n;
  }
}

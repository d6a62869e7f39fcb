import { BufferJSON, initAuthCreds, proto } from 'baileys';
import type { AuthenticationCreds, AuthenticationState, SignalDataSet, SignalDataTypeMap } from 'baileys';
import type { AuthEntry, AuthStore } from '../../storage/auth.js';

/** Where the creds object lives in the `AuthStore`: its own category, one id. */
export const CREDS_CATEGORY = 'creds';
export const CREDS_ID = '';

export interface StoredAuthState {
  readonly state: AuthenticationState;
  /** True when creds came from storage (a device that was paired before). */
  readonly resumed: boolean;
  /** Writes the current creds object (Baileys mutates it in place) in one `AuthStore.set`. */
  saveCreds(): Promise<void>;
  /**
   * Stops every later write: after a logout wiped the store, Baileys may still flush a
   * `creds.update` or a key write from its closing socket, which would resurrect half a login.
   */
  disable(): void;
}

export function serialise(value: unknown): string {
  return JSON.stringify(value, BufferJSON.replacer);
}

export function deserialise(text: string): unknown {
  return JSON.parse(text, BufferJSON.reviver) as unknown;
}

/**
 * Baileys' `AuthenticationState` over our `AuthStore`, instead of its multi-file folder.
 *
 * Each `keys.set` becomes ONE `AuthStore.set` (one transaction): Baileys batches the keys of one
 * signal operation into a single `set` through its transaction layer, so a crash never leaves a
 * session record without the pre-key deletion that went with it.
 */
export async function loadAuthState(store: AuthStore): Promise<StoredAuthState> {
  const stored = await store.get(CREDS_CATEGORY, [CREDS_ID]);
  const text = stored[CREDS_ID];
  const creds = text === undefined ? initAuthCreds() : (deserialise(text) as AuthenticationCreds);
  let enabled = true;
  // Writes are chained so that two quick `creds.update`s land in the order Baileys made them.
  let credsWrite: Promise<void> = Promise.resolve();

  const state: AuthenticationState = {
    creds,
    keys: {
      get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
        const found = await store.get(type, ids);
        const result: { [id: string]: SignalDataTypeMap[T] } = {};
        for (const [id, value] of Object.entries(found)) {
          let parsed = deserialise(value);
          if (type === 'app-state-sync-key' && parsed !== null && typeof parsed === 'object') {
            // Baileys expects the protobuf class here (it calls its methods), not a plain object.
            parsed = proto.Message.AppStateSyncKeyData.fromObject(parsed);
          }
          result[id] = parsed as SignalDataTypeMap[T];
        }
        return result;
      },
      set: async (data: SignalDataSet) => {
        if (!enabled) return;
        const entries: AuthEntry[] = [];
        for (const [category, values] of Object.entries(data)) {
          if (values === undefined) continue;
          for (const [id, value] of Object.entries(values)) {
            entries.push({ category, id, value: value === null || value === undefined ? null : serialise(value) });
          }
        }
        if (entries.length === 0) return;
        await store.set(entries);
      },
    },
  };

  const saveCreds = (): Promise<void> => {
    if (!enabled) return credsWrite;
    const value = serialise(state.creds);
    const write = credsWrite.then(() => (enabled ? store.set([{ category: CREDS_CATEGORY, id: CREDS_ID, value }]) : undefined));
    // The chain itself must not stay rejected, or every later save would fail with the old error.
    credsWrite = write.catch(() => undefined);
    return write;
  };

  return {
    state,
    resumed: text !== undefined,
    saveCreds,
    disable: () => {
      enabled = false;
    },
  };
}

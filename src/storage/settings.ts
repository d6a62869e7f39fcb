/** Small server-wide values (the generated API key, …), by key. */
export interface SettingsStore {
  get(key: string): Promise<string | null>;
  /** Sets the value only when the key has none; returns the value that is stored afterwards. */
  setIfAbsent(key: string, value: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

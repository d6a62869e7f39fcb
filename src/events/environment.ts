/**
 * WAHA's `WAHAEnvironment`, as `GET /api/server/version` answers it and as every event envelope's
 * `environment` should carry it. All its fields are required strings in WAHA's document, `worker.id`
 * a string or null. Imports nothing, so that envelope.ts can use it without a cycle.
 */
export interface WahaEnvironment {
  readonly version: string;
  readonly engine: 'NOWEB';
  /** WAHA's tiers are CORE and PLUS; wa-presence has no PLUS features, so CORE. */
  readonly tier: 'CORE';
  /** NOWEB runs no browser; WAHA's document wants a string all the same. */
  readonly browser: string;
  /** `<os>/<arch>`, as WAHA writes it (`linux/x64`). */
  readonly platform: string;
  /** The server that emitted or answers (WA_PRESENCE_SERVER_ID). */
  readonly worker: { readonly id: string | null };
}

export const NO_BROWSER = 'none';

/** `version`: SERVER_VERSION (envelope.ts). */
export function wahaEnvironment(version: string, serverId: string | null, platform: string = `${process.platform}/${process.arch}`): WahaEnvironment {
  return { version, engine: 'NOWEB', tier: 'CORE', browser: NO_BROWSER, platform, worker: { id: serverId } };
}

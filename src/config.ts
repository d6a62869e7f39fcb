import { resolve } from 'node:path';
import { hostname } from 'node:os';
import type { RetryPolicyName } from './presence/sessions.js';
import { HISTORY_RETENTION_DAYS } from './presence/history.js';
import { RETRY_POLICIES } from './presence/sessions.js';
import { customHeadersProblem } from './presence/webhook-headers.js';

/**
 * The only reader of `process.env`. Parses once, validates every value with a message naming the
 * variable, applies defaults here and nowhere else, and returns a frozen object.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** From `WHATSAPP_API_KEY`; null means "generate one at first start and store it". */
  readonly apiKey: string | null;
  /** Paths served without the API key (health is always open). */
  readonly apiKeyExcludePaths: readonly string[];
  readonly dataDir: string;
  /** `postgres://…` to use PostgreSQL; null for the embedded SQLite database in `dataDir`. */
  readonly databaseUrl: string | null;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly logFormat: 'json' | 'pretty';
  /** Public base URL of this server, when behind a proxy (WAHA_BASE_URL). */
  readonly baseUrl: string | null;
  /** Sessions to create (if missing) and start at startup. */
  readonly startSessions: readonly string[];
  /** Start every stored session at startup, not only the ones that were running. */
  readonly restartAllSessions: boolean;
  readonly sandbox: SandboxMode;
  readonly hook: GlobalHookConfig | null;
  /** Most deliveries kept pending in the outbox; past it the oldest pending ones are dropped and counted. */
  readonly outboxMaxPending: number;
  /** A session's display name for this server (`GET /api/sessions/{s}` "worker"); hostname by default. */
  readonly serverId: string;
  /** Engine commands per second when a session renews its presence and subscriptions after a reconnect. */
  readonly renewalRatePerSecond: number;
  /**
   * Most engine starts in progress at once (`WA_PRESENCE_START_CONCURRENCY`), so that resuming or
   * taking over hundreds of sessions does not stall the event loop; the others wait as STARTING.
   */
  readonly startConcurrency: number;
  /** PostgreSQL schema holding the tables (`WA_PRESENCE_DATABASE_SCHEMA`, default `public`); ignored on SQLite. */
  readonly databaseSchema: string;
  /** Several servers (PostgreSQL only): most sessions this server runs (`WA_PRESENCE_MAX_SESSIONS`). */
  readonly maxSessions: number;
  /** Several servers: how long a session lease lasts without renewal (`WA_PRESENCE_LEASE_TTL_MS`). */
  readonly leaseTtlMs: number;
  /**
   * Several servers: how often a server renews its leases, takes free or expired sessions and
   * announces itself (`WA_PRESENCE_HEARTBEAT_MS`, default 750 ms, or a quarter of a TTL under 3 s).
   */
  readonly heartbeatMs: number;
  /** Several servers: move WORKING sessions to servers below their share, a few at a time (`WA_PRESENCE_REBALANCE`, default true). */
  readonly rebalance: boolean;
  /** Several servers: the base URL other servers reach this one at (`WA_PRESENCE_ADVERTISE_URL`); null = http://host:port. */
  readonly advertiseUrl: string | null;
  /**
   * How long a webhook delivery claim is exclusive (`WA_PRESENCE_DELIVERY_LEASE_MS`): a server that
   * dies mid-delivery holds it this long before another sends it. null: the delivery worker's default.
   */
  readonly deliveryLeaseMs: number | null;
  /** The browser dashboard at /dashboard (`WA_PRESENCE_DASHBOARD`, default true). */
  readonly dashboard: boolean;
  /** Presence history for every session (`WA_PRESENCE_HISTORY`); a session's `config.presenceHistory.enabled` overrides it. */
  readonly presenceHistory: boolean;
  /** Days presence history is kept (`WA_PRESENCE_HISTORY_RETENTION_DAYS`); a session's `retentionDays` overrides it. */
  readonly presenceHistoryRetentionDays: number;
  /** `GET /metrics` (Prometheus text format, behind the API key); off with WA_PRESENCE_METRICS=false. */
  readonly metrics: boolean;
  /** A `session` label on the per-session metrics (WA_PRESENCE_METRICS_SESSION_LABELS): one series per session, a cardinality trade-off. */
  readonly metricsSessionLabels: boolean;
  /**
   * On SIGTERM, how long `/health/ready` answers 503 while the server still serves, before it stops
   * accepting (WA_PRESENCE_SHUTDOWN_DRAIN_MS): a load balancer's checks see it and stop sending first.
   */
  readonly shutdownDrainMs: number;
  /** Time limits of HTTP connections (see `src/http/server-options.ts`). */
  readonly http: HttpLimits;
}

export interface HttpLimits {
  /** `WA_PRESENCE_REQUEST_TIMEOUT_MS`: headers and body of a request must arrive within this, else the connection is closed (408). */
  readonly requestTimeoutMs: number;
  /** `WA_PRESENCE_IDLE_TIMEOUT_MS`: a connection with no traffic for this long is closed (not a WebSocket, which has its own ping). */
  readonly idleTimeoutMs: number;
  /** `WA_PRESENCE_KEEP_ALIVE_TIMEOUT_MS`: an idle keep-alive connection between two requests is closed after this. */
  readonly keepAliveTimeoutMs: number;
}

/** How the process reaches WhatsApp: the real network, an embedded sandbox, or a sandbox by URL. */
export type SandboxMode =
  | { readonly kind: 'off' }
  | { readonly kind: 'embedded'; readonly autoPair: boolean }
  | { readonly kind: 'remote'; readonly url: string; readonly autoPair: boolean };

export interface GlobalHookConfig {
  readonly url: string;
  readonly events: readonly string[];
  readonly hmacKey: string | null;
  readonly retries: { readonly policy: RetryPolicyName; readonly delaySeconds: number; readonly attempts: number };
  readonly customHeaders: readonly { readonly name: string; readonly value: string }[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function str(env: Env, name: string): string | null {
  const value = env[name];
  return value === undefined || value.trim() === '' ? null : value.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return true;
  if (['false', '0', 'no'].includes(lower)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const found = allowed.find((value) => value === raw.toLowerCase());
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return found;
}

function list(env: Env, name: string): string[] {
  const raw = str(env, name);
  if (raw === null) return [];
  return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function url(env: Env, name: string, protocols: readonly string[]): string | null {
  const raw = str(env, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL (${protocols.join(' or ')}), got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
  }
  return raw;
}

function schemaName(env: Env, name: string): string {
  const raw = str(env, name);
  if (raw === null) return 'public';
  // Spliced into DDL and search_path by the PostgreSQL backend: unquoted identifiers only.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) {
    throw new ConfigError(`${name} must be lower-case letters, digits and _ (at most 63), starting with a letter or _, got "${raw}"`);
  }
  return raw;
}

function heartbeatOf(env: Env, leaseTtlMs: number): number {
  // Five renewals or so within a lease: a failed or slow one is retried well before the lease runs out.
  const fallback = Math.min(750, Math.floor(leaseTtlMs / 4));
  const heartbeatMs = int(env, 'WA_PRESENCE_HEARTBEAT_MS', fallback, 100, 60_000);
  if (heartbeatMs >= leaseTtlMs) {
    throw new ConfigError(`WA_PRESENCE_HEARTBEAT_MS (${heartbeatMs}) must be shorter than WA_PRESENCE_LEASE_TTL_MS (${leaseTtlMs}): a lease must be renewed before it runs out`);
  }
  return heartbeatMs;
}

function sandboxMode(env: Env, argv: readonly string[]): SandboxMode {
  const autoPair = bool(env, 'WA_PRESENCE_SANDBOX_AUTOPAIR', true);
  if (argv.includes('--sandbox')) return { kind: 'embedded', autoPair };
  const raw = str(env, 'WA_PRESENCE_SANDBOX');
  if (raw === null) return { kind: 'off' };
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return { kind: 'embedded', autoPair };
  if (['false', '0', 'no'].includes(lower)) return { kind: 'off' };
  const remote = url(env, 'WA_PRESENCE_SANDBOX', ['ws:', 'wss:']);
  if (remote === null) return { kind: 'off' };
  return { kind: 'remote', url: remote, autoPair };
}

function customHeaders(env: Env, name: string): { name: string; value: string }[] {
  // WAHA's form: "Name1:value1;Name2:value2".
  const raw = str(env, name);
  if (raw === null) return [];
  const headers = raw.split(';').filter((pair) => pair.trim() !== '').map((pair) => {
    const at = pair.indexOf(':');
    if (at <= 0) throw new ConfigError(`${name} must look like "Name:value;Other:value", got "${pair}"`);
    return { name: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim() };
  });
  const found = customHeadersProblem(headers);
  if (found !== null) throw new ConfigError(`${name}: header ${found.index + 1} ${found.problem}`);
  return headers;
}

function globalHook(env: Env): GlobalHookConfig | null {
  const hookUrl = url(env, 'WHATSAPP_HOOK_URL', ['http:', 'https:']);
  if (hookUrl === null) return null;
  const events = list(env, 'WHATSAPP_HOOK_EVENTS');
  return {
    url: hookUrl,
    events: events.length === 0 ? ['*'] : events,
    hmacKey: str(env, 'WHATSAPP_HOOK_HMAC_KEY'),
    retries: {
      policy: oneOf(env, 'WHATSAPP_HOOK_RETRIES_POLICY', RETRY_POLICIES, 'exponential'),
      delaySeconds: int(env, 'WHATSAPP_HOOK_RETRIES_DELAY_SECONDS', 2, 0, 3600),
      attempts: int(env, 'WHATSAPP_HOOK_RETRIES_ATTEMPTS', 15, 0, 100),
    },
    customHeaders: customHeaders(env, 'WHATSAPP_HOOK_CUSTOM_HEADERS'),
  };
}

export function loadConfig(env: Env = process.env, argv: readonly string[] = process.argv.slice(2)): Config {
  const portRaw = str(env, 'WHATSAPP_API_PORT') !== null ? 'WHATSAPP_API_PORT' : 'PORT';
  const leaseTtlMs = int(env, 'WA_PRESENCE_LEASE_TTL_MS', 4_000, 1000, 600_000);
  const config: Config = {
    port: int(env, portRaw, 3000, 0, 65535),
    host: str(env, 'WHATSAPP_API_HOSTNAME') ?? '127.0.0.1',
    apiKey: str(env, 'WHATSAPP_API_KEY'),
    apiKeyExcludePaths: list(env, 'WHATSAPP_API_KEY_EXCLUDE_PATH'),
    dataDir: resolve(str(env, 'WA_PRESENCE_DATA_DIR') ?? 'data'),
    databaseUrl: url(env, 'WA_PRESENCE_DATABASE_URL', ['postgres:', 'postgresql:']),
    logLevel: bool(env, 'WAHA_DEBUG_MODE', false) ? 'debug' : oneOf(env, 'WAHA_LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: oneOf(env, 'WAHA_LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    baseUrl: url(env, 'WAHA_BASE_URL', ['http:', 'https:']),
    startSessions: list(env, 'WHATSAPP_START_SESSION'),
    restartAllSessions: bool(env, 'WHATSAPP_RESTART_ALL_SESSIONS', false),
    sandbox: sandboxMode(env, argv),
    hook: globalHook(env),
    outboxMaxPending: int(env, 'WA_PRESENCE_OUTBOX_MAX_PENDING', 1_000_000, 1, 1_000_000_000),
    serverId: str(env, 'WA_PRESENCE_SERVER_ID') ?? `${hostname()}-${process.pid}`,
    renewalRatePerSecond: int(env, 'WA_PRESENCE_RENEWAL_RATE', 10, 1, 1000),
    // 8: measured at N = 200 (README, Benchmarks), 8 pairings at a time kept the event-loop delay under 0.5 s
    // for no more CPU and little more wall time than 25.
    startConcurrency: int(env, 'WA_PRESENCE_START_CONCURRENCY', 8, 1, 1000),
    databaseSchema: schemaName(env, 'WA_PRESENCE_DATABASE_SCHEMA'),
    maxSessions: int(env, 'WA_PRESENCE_MAX_SESSIONS', 1000, 0, 1_000_000),
    // 5 s: a SIGKILLed server's sessions run elsewhere within the TTL, one heartbeat and a start
    // (about 7 s on a loaded 2-core machine, README "Running several servers"); the renewals run in a
    // thread of their own, so a main-thread stall does not make a live server lose its leases.
    leaseTtlMs,
    heartbeatMs: heartbeatOf(env, leaseTtlMs),
    rebalance: bool(env, 'WA_PRESENCE_REBALANCE', true),
    advertiseUrl: url(env, 'WA_PRESENCE_ADVERTISE_URL', ['http:', 'https:']),
    metrics: bool(env, 'WA_PRESENCE_METRICS', true),
    metricsSessionLabels: bool(env, 'WA_PRESENCE_METRICS_SESSION_LABELS', false),
    shutdownDrainMs: int(env, 'WA_PRESENCE_SHUTDOWN_DRAIN_MS', 0, 0, 600_000),
    deliveryLeaseMs: str(env, 'WA_PRESENCE_DELIVERY_LEASE_MS') === null ? null : int(env, 'WA_PRESENCE_DELIVERY_LEASE_MS', 0, 1000, 3_600_000),
    http: Object.freeze({
      // A body of at most 1 MiB needs far less than 30 s on any link a server is used over; a client
      // that takes longer is holding a connection, not sending a request.
      requestTimeoutMs: int(env, 'WA_PRESENCE_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
      // Above the longest answer we give (a forwarded call, a start waiting for its turn).
      idleTimeoutMs: int(env, 'WA_PRESENCE_IDLE_TIMEOUT_MS', 120_000, 100, 3_600_000),
      // Fastify's default: longer than the 60 s of common proxies and load balancers, so they close first.
      keepAliveTimeoutMs: int(env, 'WA_PRESENCE_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
    }),
    presenceHistory: bool(env, 'WA_PRESENCE_HISTORY', false),
    presenceHistoryRetentionDays: int(env, 'WA_PRESENCE_HISTORY_RETENTION_DAYS', HISTORY_RETENTION_DAYS.default, HISTORY_RETENTION_DAYS.min, HISTORY_RETENTION_DAYS.max),
    dashboard: bool(env, 'WA_PRESENCE_DASHBOARD', true),
  };
  const engine = str(env, 'WHATSAPP_DEFAULT_ENGINE');
  if (engine !== null && engine.toUpperCase() !== 'NOWEB') {
    throw new ConfigError(`WHATSAPP_DEFAULT_ENGINE must be NOWEB (the only engine of wa-presence), got "${engine}"`);
  }
  return Object.freeze(config);
}

/** Options of the standalone sandbox (`npm run sandbox`). */
export interface SandboxConfig {
  /** WA_PRESENCE_SANDBOX_HOST, default 127.0.0.1 (loopback only unless told). */
  readonly host: string;
  /** WA_PRESENCE_SANDBOX_PORT, default 4001. */
  readonly port: number;
  /** WA_PRESENCE_SANDBOX_AUTOPAIR, default true. */
  readonly autoPair: boolean;
  /** WA_PRESENCE_SANDBOX_CHATSTATE_TTL_MS, default 25000: composing not refreshed in this time expires as paused. */
  readonly chatStateTtlMs: number;
  /** WA_PRESENCE_SANDBOX_DATA_DIR, default none: where the standalone sandbox keeps its world; null keeps it in memory. */
  readonly dataDir: string | null;
  readonly logLevel: Config['logLevel'];
  readonly logFormat: Config['logFormat'];
}

export function loadSandboxConfig(env: Env = process.env, argv: readonly string[] = process.argv.slice(2)): SandboxConfig {
  const unknown = argv.filter((arg) => arg.startsWith('-'));
  if (unknown.length > 0) {
    throw new ConfigError(`the sandbox takes no command-line options (got ${unknown.join(' ')}); use WA_PRESENCE_SANDBOX_* variables`);
  }
  const host = str(env, 'WA_PRESENCE_SANDBOX_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
    throw new ConfigError(`WA_PRESENCE_SANDBOX_HOST must be a host name or IP address, got "${host}"`);
  }
  const sandboxDataDir = str(env, 'WA_PRESENCE_SANDBOX_DATA_DIR');
  return Object.freeze({
    host,
    port: int(env, 'WA_PRESENCE_SANDBOX_PORT', 4001, 0, 65535),
    autoPair: bool(env, 'WA_PRESENCE_SANDBOX_AUTOPAIR', true),
    chatStateTtlMs: int(env, 'WA_PRESENCE_SANDBOX_CHATSTATE_TTL_MS', 25_000, 100, 3_600_000),
    dataDir: sandboxDataDir === null ? null : resolve(sandboxDataDir),
    logLevel: bool(env, 'WAHA_DEBUG_MODE', false) ? 'debug' : oneOf(env, 'WAHA_LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: oneOf(env, 'WAHA_LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
  });
}

import type { SessionStatus } from './status.js';

export const ENGINES = ['NOWEB'] as const;
export type EngineName = (typeof ENGINES)[number];

export const RETRY_POLICIES = ['constant', 'linear', 'exponential'] as const;
export type RetryPolicyName = (typeof RETRY_POLICIES)[number];

/** WAHA's webhook configuration, field for field. */
export interface WebhookConfig {
  readonly url: string;
  /** Event names, or `*` for all. */
  readonly events: readonly string[];
  readonly hmac?: { readonly key: string } | null;
  readonly retries?: {
    readonly policy: RetryPolicyName;
    readonly delaySeconds: number;
    readonly attempts: number;
  } | null;
  readonly customHeaders?: readonly { readonly name: string; readonly value: string }[] | null;
}

/** WAHA's session config: what a presence server uses, and WAHA's other fields kept as sent. */
export interface SessionConfig {
  readonly webhooks?: readonly WebhookConfig[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly debug?: boolean;
  readonly noweb?: {
    /**
     * Send `available` when the session connects (WAHA's default: true). WhatsApp delivers other
     * people's presence only to an account that is online, but while a linked device is online the
     * phone gets no push notifications.
     */
    readonly markOnline?: boolean;
    /** WAHA's; kept, not used. */
    readonly store?: { readonly enabled?: boolean; readonly fullSync?: boolean };
  };
  /**
   * Ours, not WAHA's, and only for a server on the sandbox network. `autoPair: false` keeps this
   * session's QR away from the sandbox's automatic scanner, so that it waits to be linked by hand:
   * by its QR (`POST /api/sandbox/scan`) or by a pairing code typed on the sandbox's phone
   * (`POST /api/sandbox/link-code`). Default: the server's WA_PRESENCE_SANDBOX_AUTOPAIR.
   */
  readonly sandbox?: { readonly autoPair?: boolean };
  /**
   * Ours, not WAHA's: presence history of this session (README, "Presence history"). Absent fields
   * take the server's WA_PRESENCE_HISTORY and WA_PRESENCE_HISTORY_RETENTION_DAYS.
   */
  readonly presenceHistory?: { readonly enabled?: boolean; readonly retentionDays?: number };
  /** WAHA's fields with no meaning for a presence server: accepted from WAHA clients and kept, not used. */
  readonly proxy?: { readonly server: string; readonly username?: string; readonly password?: string } | null;
  readonly ignore?: { readonly status?: boolean; readonly groups?: boolean; readonly channels?: boolean; readonly broadcast?: boolean };
  readonly client?: { readonly deviceName?: string; readonly browserName?: string };
  /** WAHA's settings of its other engines, sent by clients configured for them. */
  readonly webjs?: Readonly<Record<string, unknown>> | null;
  readonly gows?: Readonly<Record<string, unknown>> | null;
}

/** The account a session is logged in as. */
export interface Me {
  /** `<digits>@c.us` */
  readonly id: string;
  readonly pushName: string | null;
  /** `<id>@lid`, when the server told us. */
  readonly lid?: string | null;
  /** `<digits>:<device>@s.whatsapp.net`: the account's id with this device's number (WAHA's `MeInfo.jid`). */
  readonly jid?: string;
}

/** What a session is, as the API shows it. */
export interface SessionInfo {
  readonly name: string;
  readonly status: SessionStatus;
  readonly config: SessionConfig;
  readonly me: Me | null;
  readonly engine: { readonly engine: EngineName };
  /** The session's own global presence as last set through the API (`online`/`offline`), null when never set. */
  readonly presence: 'online' | 'offline' | null;
  /** Milliseconds since the epoch of the last command a client sent through the session's engine; null when none (since this server started it). */
  readonly activity: number | null;
  /** Several servers: the id of the server that runs the session (absent on one server, or when no server runs it). */
  readonly worker?: string;
  /** Why the session reached its status, when it was not asked for (FAILED, or STOPPED by WhatsApp). */
  readonly reason?: string;
}

/** Session names: WAHA accepts letters, digits, `_` and `-`. */
export const SESSION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidSessionName(name: string): boolean {
  return SESSION_NAME_PATTERN.test(name);
}

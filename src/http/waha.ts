import { randomBytes } from 'node:crypto';
import type { preValidationHookHandler } from 'fastify';
import { AppError, isAppError } from '../errors.js';
import { DEFAULT_RETRIES } from '../events/retry.js';
import type { SessionConfig, SessionInfo, WebhookConfig } from '../presence/sessions.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/**
 * What WAHA clients send and expect that our domain does not model the same way: pure helpers the
 * routes use to accept WAHA's requests and shape WAHA's answers.
 */

/**
 * A copy without the object properties whose value is null, at every depth (array items stay).
 * Clients generated from WAHA's document send every optional field they were not given as null
 * (`chatId: null`, `apps: null`, `config.webhooks: null`); WAHA reads those as absent, so do we.
 * Done before validation, so a null never reaches the schema (where `webhooks: null` would be
 * coerced to `[null]`).
 */
export function withoutNulls(value: unknown, depth = 0): unknown {
  // Deeper than any schema of ours nests: left as sent, for the validator's depth limit to refuse
  // (walking a body nested thousands of levels deep here would overflow the stack first).
  if (depth > NULL_DROP_MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => withoutNulls(item, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== null) out[key] = withoutNulls(field, depth + 1);
  }
  return out;
}

/** Our request schemas nest less than this; free-form parts are refused past FREE_FORM_MAX_DEPTH anyway. */
const NULL_DROP_MAX_DEPTH = 64;

/** `preValidation` hook: the body without its null fields (see `withoutNulls`); a null or absent body stays absent. */
export const dropNullFields: preValidationHookHandler = (request, _reply, done) => {
  if (request.body !== undefined && request.body !== null) request.body = withoutNulls(request.body);
  done();
};

/** The body as an object when the client sent none: routes whose fields are all optional (create, update). */
export const emptyBodyAsObject: preValidationHookHandler = (request, _reply, done) => {
  request.body ??= {};
  done();
};

type RetriesInput = Partial<NonNullable<WebhookConfig['retries']>>;
type WebhookInput = Omit<WebhookConfig, 'retries' | 'hmac'> & { readonly retries?: RetriesInput; readonly hmac?: { readonly key?: string } };

/**
 * WAHA's defaults for what a webhook leaves out: `retries` with only some fields (WAHA's own docs
 * example has no `policy`) gets the rest from WAHA's defaults; `hmac` without a key signs nothing.
 */
export function withWahaDefaults(webhook: WebhookInput): WebhookConfig {
  const { retries, hmac, ...rest } = webhook;
  return {
    ...rest,
    ...(hmac?.key === undefined || hmac.key === '' ? {} : { hmac: { key: hmac.key } }),
    ...(retries === undefined
      ? {}
      : {
          retries: {
            policy: retries.policy ?? DEFAULT_RETRIES.policy,
            delaySeconds: retries.delaySeconds ?? DEFAULT_RETRIES.delaySeconds,
            attempts: retries.attempts ?? DEFAULT_RETRIES.attempts,
          },
        }),
  };
}

/** A validated config with WAHA's webhook defaults applied (see `withWahaDefaults`). */
export function configWithDefaults(config: Omit<SessionConfig, 'webhooks'> & { readonly webhooks?: readonly WebhookInput[] }): SessionConfig {
  const { webhooks, ...rest } = config;
  return webhooks === undefined ? rest : { ...rest, webhooks: webhooks.map(withWahaDefaults) };
}

/** A name for a session created without one when `default` is taken: `session_` and 8 hex digits, as WAHA-like names go. */
export function generatedSessionName(random: (bytes: number) => Buffer = randomBytes): string {
  return `session_${random(4).toString('hex')}`;
}

/**
 * The session info in WAHA's `SessionInfo` shape: `presence` an object (as WAHA's document types
 * it: `{status}`, the session's own presence or null) and `timestamps.activity` (null when unknown).
 * `me.jid` is in `me` when the engine told it.
 */
export function wahaSessionInfo(info: SessionInfo): Omit<SessionInfo, 'presence' | 'activity'> & {
  readonly presence: { readonly status: 'online' | 'offline' | null };
  readonly timestamps: { readonly activity: number | null };
} {
  const { presence, activity, ...rest } = info;
  return { ...rest, presence: { status: presence }, timestamps: { activity } };
}

/** One media range of an Accept header, lower-cased, with its q (default 1). */
function mediaRanges(accept: string): { type: string; q: number }[] {
  return accept
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
      const q = params.find((param) => param.startsWith('q='));
      const value = q === undefined ? 1 : Number(q.slice(2));
      return { type, q: Number.isFinite(value) ? value : 1 };
    })
    .filter((range) => range.type !== '' && range.q > 0);
}

/**
 * Whether the client accepts JSON and nothing else: WAHA answers the QR as base64 JSON only to
 * `Accept: application/json`; anything that also takes another type (axios' default
 * `application/json, text/plain, *\/*`, a browser's, none at all) gets the PNG.
 */
export function acceptsJsonOnly(accept: string | undefined): boolean {
  const ranges = mediaRanges(accept ?? '');
  return ranges.length > 0 && ranges.every((range) => range.type === 'application/json');
}

export interface WaitOptions {
  /** How long to wait for the session to leave STARTING (WAHA: about 5 s). */
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** Reads the time and waits between tries; a test's clock does neither for real. */
  readonly clock: Pick<Clock, 'now' | 'sleep'>;
}

export const WAIT_FOR_WORKING: WaitOptions = {
  timeoutMs: 5_000,
  intervalMs: 100,
  clock: systemClock,
};

/**
 * Runs `call`; while it fails with SESSION_NOT_WORKING because the session is still STARTING (a
 * presence call right after a restart), tries again until `timeoutMs`, then lets the 422 through,
 * as WAHA waits up to 5 s for WORKING. Other errors, and other statuses (SCAN_QR_CODE needs a
 * person, STOPPED and FAILED someone's action), answer at once.
 */
export async function whenWorking<T>(call: () => Promise<T>, options: WaitOptions = WAIT_FOR_WORKING): Promise<T> {
  const deadline = options.clock.now() + options.timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const starting = isAppError(error) && error.code === 'SESSION_NOT_WORKING' && error.details?.['status'] === 'STARTING';
      if (!starting || options.clock.now() >= deadline) throw error;
    }
    await options.clock.sleep(Math.min(options.intervalMs, Math.max(0, deadline - options.clock.now())));
  }
}

/** Refuses a non-empty `apps`: wa-presence runs none of WAHA's apps (ChatWoot, calls, MCP). */
export function assertNoApps(apps: readonly unknown[] | undefined): void {
  if (apps !== undefined && apps.length > 0) {
    throw new AppError('VALIDATION_FAILED', 'apps: wa-presence runs no WAHA apps (ChatWoot, calls, MCP); send an empty list, null, or leave it out', { field: 'apps' });
  }
}

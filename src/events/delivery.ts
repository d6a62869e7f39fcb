import { createHmac, randomUUID } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { DeliveryFailure } from './retry.js';
import { parseRetryAfter } from './retry.js';
import type { WebhookTarget } from './webhooks.js';

/**
 * One webhook request, as small composed steps: `signedHeaders` (what the receiver checks),
 * `send` (undici, bounded by a timeout), `classify` (what the answer means for the outbox).
 * `deliver` chains them; retries and persistence are the worker's business, not this file's.
 */

/** Hex HMAC-SHA512 of the exact body bytes, as WAHA's `X-Webhook-Hmac`. */
export function signBody(key: string, body: string): string {
  return createHmac('sha512', key).update(body, 'utf8').digest('hex');
}

export interface RequestStamp {
  /** Unique per attempt: the receiver's log line for this try. The event's own `id` is in the body. */
  readonly requestId: string;
  /** Milliseconds since the epoch, when the attempt was made. */
  readonly timestamp: number;
}

export function signedHeaders(target: WebhookTarget, body: string, stamp: RequestStamp): Record<string, string> {
  const headers: Record<string, string> = {};
  // Custom headers first, so they can never override the protocol's own headers below.
  for (const header of target.customHeaders) headers[header.name.toLowerCase()] = header.value;
  headers['content-type'] = 'application/json';
  headers['x-webhook-request-id'] = stamp.requestId;
  headers['x-webhook-timestamp'] = String(stamp.timestamp);
  if (target.hmacKey !== null) {
    headers['x-webhook-hmac'] = signBody(target.hmacKey, body);
    headers['x-webhook-hmac-algorithm'] = 'sha512';
  }
  return headers;
}

export interface SendResult {
  readonly status: number;
  readonly retryAfter: string | null;
}

export class DeliveryTimeoutError extends Error {
  override readonly name = 'DeliveryTimeoutError';
}

/** POSTs the body; rejects on network errors and with `DeliveryTimeoutError` past `timeoutMs`. */
export async function send(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  dispatcher?: Dispatcher,
): Promise<SendResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeliveryTimeoutError(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body,
      signal: controller.signal,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    // The answer's body means nothing to us, but it must be read for the connection to be reused.
    await response.body.dump();
    const retryAfter = response.headers['retry-after'];
    return { status: response.statusCode, retryAfter: typeof retryAfter === 'string' ? retryAfter : null };
  } catch (error) {
    if (controller.signal.aborted) throw new DeliveryTimeoutError(`no answer within ${timeoutMs} ms`, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export type DeliveryResult =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly failure: DeliveryFailure };

/** 2xx is delivered; any other status or error is a failure that `nextDelay` judges. */
export function classify(outcome: { ok: true; result: SendResult } | { ok: false; error: unknown }, now: number): DeliveryResult {
  if (outcome.ok) {
    const { status, retryAfter } = outcome.result;
    if (status >= 200 && status <= 299) return { ok: true, status };
    return { ok: false, failure: { kind: 'status', status, retryAfterMs: parseRetryAfter(retryAfter, now) } };
  }
  const error = outcome.error;
  if (error instanceof DeliveryTimeoutError) return { ok: false, failure: { kind: 'timeout', message: error.message } };
  return { ok: false, failure: { kind: 'network', message: describeError(error) } };
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return typeof code === 'string' ? `${code} ${error.message}${cause}` : `${error.message}${cause}`;
  }
  return String(error);
}

export interface DeliverOptions {
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly dispatcher?: Dispatcher;
  readonly requestId?: () => string;
}

/** sign → send with a timeout → classify. Never rejects: every outcome is a `DeliveryResult`. */
export async function deliver(target: WebhookTarget, body: string, options: DeliverOptions): Promise<DeliveryResult> {
  const headers = signedHeaders(target, body, {
    requestId: (options.requestId ?? randomUUID)(),
    timestamp: options.now(),
  });
  try {
    const result = await send(target.url, headers, body, options.timeoutMs, options.dispatcher);
    return classify({ ok: true, result }, options.now());
  } catch (error) {
    return classify({ ok: false, error }, options.now());
  }
}

export function describeFailure(failure: DeliveryFailure): string {
  switch (failure.kind) {
    case 'network':
      return `network error: ${failure.message}`;
    case 'timeout':
      return `timeout: ${failure.message}`;
    case 'status':
      return `HTTP ${failure.status}`;
  }
}

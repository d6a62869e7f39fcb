import { createHmac, randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
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

/** undici's own timeouts, all three of which mean the receiver did not answer in time. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** Origins and paths of a few webhook URLs, parsed once: every delivery to one webhook has the same URL. */
const parsedUrls = new Map<string, { readonly origin: string; readonly path: string }>();
const PARSED_URLS = 256;

function originAndPath(url: string): { readonly origin: string; readonly path: string } {
  let parsed = parsedUrls.get(url);
  if (parsed === undefined) {
    const { origin, pathname, search } = new URL(url);
    parsed = { origin, path: `${pathname}${search}` };
    if (parsedUrls.size >= PARSED_URLS) parsedUrls.clear();
    parsedUrls.set(url, parsed);
  }
  return parsed;
}

/**
 * Deliveries go through an Agent of our own undici, never the process's global dispatcher: that
 * one is shared by every copy of undici in the process, and when Node's own `fetch` runs first
 * (Node 20 and 22 bundle undici 6) it installs an Agent that refuses this handler API, and every
 * webhook would fail with "invalid onError method".
 */
let ownDispatcher: Dispatcher | undefined;
function deliveryDispatcher(): Dispatcher {
  ownDispatcher ??= new Agent();
  return ownDispatcher;
}

/**
 * POSTs the body; rejects on network errors and with `DeliveryTimeoutError` when the receiver
 * takes longer than `timeoutMs` to answer (headers, then between body chunks; connecting has the
 * dispatcher's own connect timeout, 10 s by default).
 *
 * Straight through undici's `dispatch` with a handler that keeps only the status and
 * `Retry-After`: `request()` builds a body stream, an abort signal and a timer per request, which
 * bench/presence-pipeline.ts measured as a tenth of the CPU of an update on its way to a webhook.
 */
export function send(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  dispatcher: Dispatcher = deliveryDispatcher(),
): Promise<SendResult> {
  const { origin, path } = originAndPath(url);
  return new Promise((resolve, reject) => {
    let status = 0;
    let retryAfter: string | null = null;
    const fail = (error: Error): void => {
      const code = (error as Error & { code?: unknown }).code;
      reject(typeof code === 'string' && TIMEOUT_CODES.has(code) ? new DeliveryTimeoutError(`no answer within ${timeoutMs} ms`, { cause: error }) : error);
    };
    try {
      dispatcher.dispatch(
        { origin, path, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
        {
          // Its presence is what tells undici this handler speaks its current handler API.
          onRequestStart() {},
          onResponseStart(_controller, statusCode, responseHeaders) {
            status = statusCode;
            const value = responseHeaders['retry-after'];
            retryAfter = typeof value === 'string' ? value : null;
          },
          // The answer's body means nothing to us; it is read (and dropped) so the connection is reused.
          onResponseData() {},
          onResponseEnd() {
            resolve({ status, retryAfter });
          },
          onResponseError(_controller, error) {
            fail(error);
          },
        },
      );
    } catch (error) {
      // An invalid option (a header undici refuses) throws here rather than reaching onResponseError.
      fail(error instanceof Error ? error : new Error(String(error)));
    }
  });
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

/**
 * What a webhook's custom header may be. A header undici refuses (CR, LF or NUL, a name that is not
 * a token) or one that changes how the request is framed or routed makes every delivery fail as a
 * "network error", retried as transient for ever and holding back the chat's later events; a
 * header the delivery sets itself would be silently replaced. Both are refused when configured.
 */

/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Control characters other than horizontal tab (RFC 9110 field-value), DEL included. */
function hasControl(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/**
 * Names the delivery owns: framing and connection headers (undici refuses most of them, and a
 * wrong Host or Content-Length sends the request elsewhere or cuts it), and what
 * `src/events/delivery.ts` sets on every request (Content-Type and WAHA's X-Webhook-* headers).
 */
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect', 'content-type']);

/** Longest name or value accepted: far above any real header, far below what receivers refuse (8 KiB in all). */
export const MAX_HEADER_NAME = 256;
export const MAX_HEADER_VALUE = 4096;

export interface CustomHeader {
  readonly name: string;
  readonly value: string;
}

/** Why this header cannot be sent, as the end of a sentence naming it; null when it can. */
export function customHeaderProblem(header: CustomHeader): string | null {
  const { name, value } = header;
  if (name.length === 0 || name.length > MAX_HEADER_NAME || !TOKEN.test(name)) {
    return `name ${JSON.stringify(name)} is not an HTTP header name: use 1 to ${MAX_HEADER_NAME} letters, digits and !#$%&'*+.^_\`|~-`;
  }
  const lower = name.toLowerCase();
  if (RESERVED.has(lower) || lower.startsWith('x-webhook-')) {
    return `"${name}" is set by the delivery itself and cannot be configured (reserved: Host, Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Expect, Content-Type and X-Webhook-*)`;
  }
  if (hasControl(value)) return `value of "${name}" holds a control character (CR, LF, NUL, …), which HTTP does not allow in a header`;
  if (value.length > MAX_HEADER_VALUE) return `value of "${name}" is longer than ${MAX_HEADER_VALUE} characters`;
  return null;
}

/** The first problem of a header list, with its index: each problem above, and a name given twice. */
export function customHeadersProblem(headers: readonly CustomHeader[]): { readonly index: number; readonly problem: string } | null {
  const seen = new Set<string>();
  for (const [index, header] of headers.entries()) {
    const problem = customHeaderProblem(header);
    if (problem !== null) return { index, problem };
    const lower = header.name.toLowerCase();
    if (seen.has(lower)) return { index, problem: `"${header.name}" is given twice (header names are case-insensitive); keep one` };
    seen.add(lower);
  }
  return null;
}

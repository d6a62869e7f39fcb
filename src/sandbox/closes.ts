import type { BinaryNode } from 'baileys';

/**
 * How the server ends a client's stream for good, stanza for stanza as WhatsApp sends it, and the
 * `DisconnectReason` Baileys (rc14) reports for each:
 *
 * - `<stream:error>` (Socket/socket.js `CB:stream:error` → Utils/generics.js
 *   `getErrorCodeFromStreamError`): the status is the `code` attribute, else the first child's tag
 *   through `CODE_MAP` (`conflict` → 440), else 500 (badSession).
 * - `<failure reason=…>` (`CB:failure`, at login or on a live stream): the status is `reason`.
 *
 * whatsmeow (connectionevents.go) handles the same stanzas: `code="401"` with
 * `<conflict type="device_removed"/>` is a logout, `<conflict type="replaced"/>` a replaced stream,
 * `<failure reason="401">` a logout at connect.
 */

/**
 * A second login of the same device took over: the old connection gets this. No `code`, so Baileys
 * maps the `conflict` child to 440 (connectionReplaced).
 */
export function replacedNode(): BinaryNode {
  return { tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] };
}

/** The phone removed this linked device: Baileys reports 401 (loggedOut) from `code`. */
export function deviceRemovedNode(): BinaryNode {
  return { tag: 'stream:error', attrs: { code: '401' }, content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }] };
}

/** Why a login or a live stream is refused with `<failure>`. */
export type FailureReason = 401 | 403;

/**
 * `<failure reason=401>`: the device is not (or no longer) linked; Baileys ends with loggedOut.
 * `<failure reason=403>`: the account is banned; Baileys ends with 403 (forbidden). WhatsApp adds
 * a text for the user to 403s (whatsmeow logs `logout_message_header` / `_subtext`); Baileys
 * ignores the extra attributes.
 */
export function failureNode(reason: FailureReason): BinaryNode {
  const attrs: Record<string, string> = { reason: String(reason), location: 'sandbox' };
  if (reason === 403) {
    attrs.logout_message_header = 'This account is not allowed to use WhatsApp';
    attrs.logout_message_subtext = 'The sandbox operator banned it (POST /api/sandbox/accounts/{phone}/unban lifts the ban).';
  }
  return { tag: 'failure', attrs };
}

import type { AuthenticationCreds } from 'baileys';

/**
 * Baileys' requestPairingCode writes `creds.me = {id: "<phone>@s.whatsapp.net", name: "~"}` at once,
 * before anything is linked (the companion_hello stanza carries that JID). Only pair-success makes a
 * linked device: it sets `creds.account` (the signed device identity) and a `me.id` with a device
 * number. A code request still open is therefore `me` without `account`, with a pairing code.
 */
export function pendingCodeRequest(creds: AuthenticationCreds): boolean {
  return creds.me !== undefined && creds.account === undefined && creds.pairingCode !== undefined;
}

/** Whether these credentials belong to a linked device (paired, or provisioned with its JID). */
export function linked(creds: AuthenticationCreds): boolean {
  return creds.me?.id !== undefined && !pendingCodeRequest(creds);
}

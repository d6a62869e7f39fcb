import type { BinaryNode } from 'baileys';
import { proto } from 'baileys';
import { SERVER_JID } from './jid.js';
import type { Account, Device } from './state.js';

/**
 * What the `ClientPayload` of a finished handshake asks for:
 * - `username` + `device`: a known device logging in;
 * - `devicePairingData` and no username: a new device that wants to be paired by QR.
 */
export type LoginRequest =
  | { readonly kind: 'login'; readonly phone: string; readonly deviceId: number; readonly pushName: string | null }
  | { readonly kind: 'pair'; readonly identityKey: Buffer }
  | { readonly kind: 'invalid'; readonly reason: string };

export function readClientPayload(bytes: Uint8Array): LoginRequest {
  let payload: proto.ClientPayload;
  try {
    payload = proto.ClientPayload.decode(bytes);
  } catch {
    return { kind: 'invalid', reason: 'ClientPayload does not decode' };
  }
  const username = payload.username === null || payload.username === undefined ? null : String(payload.username);
  if (username !== null && username !== '0') {
    if (!/^\d{5,20}$/.test(username)) return { kind: 'invalid', reason: `username ${username} is not a phone number` };
    return { kind: 'login', phone: username, deviceId: payload.device ?? 0, pushName: payload.pushName ?? null };
  }
  const identityKey = payload.devicePairingData?.eIdent;
  if (identityKey?.length === 32) return { kind: 'pair', identityKey: Buffer.from(identityKey) };
  return { kind: 'invalid', reason: 'ClientPayload has neither a username nor device pairing data' };
}

/**
 * `<success>` opens the session. `lid` tells the client its own LID; `t` the server time, from which
 * Baileys derives its clock offset.
 */
export function successNode(account: Account, device: Device, nowSeconds: number): BinaryNode {
  return {
    tag: 'success',
    attrs: {
      t: String(nowSeconds),
      props: '1',
      abprops: '1',
      location: 'sandbox',
      creation: String(Math.floor(account.createdAt / 1000)),
      lid: `${account.lid}:${device.id}@lid`,
    },
  };
}

/** Sent right after `<success>`: no offline messages are pending, so Baileys flushes its event buffer at once. */
export function offlineNode(): BinaryNode {
  return { tag: 'ib', attrs: { from: SERVER_JID }, content: [{ tag: 'offline', attrs: { count: '0' } }] };
}

import { WA_CERT_DETAILS } from 'baileys';
import { SANDBOX_ROOT_PUBLIC_KEY } from './trust.js';

/**
 * What a Baileys client needs to join a sandbox (for the NOWEB engine in sandbox mode, tests, the
 * bench). Kept apart from the server so a client imports no server code.
 */

/** The Curve25519 public key WhatsApp's certificate chain is rooted in, as Baileys ships it (read before anything sets it). */
export const WHATSAPP_ROOT_PUBLIC_KEY: Uint8Array = new Uint8Array(WA_CERT_DETAILS.PUBLIC_KEY);

/**
 * The one place that sets the root Baileys verifies a server's certificate chain against. Baileys
 * reads `WA_CERT_DETAILS.PUBLIC_KEY` (a plain mutable export) at every handshake and has no
 * per-socket option, so this is process-wide: one process serves either the real WhatsApp or a
 * sandbox, never both.
 */
export function trustBaileysRoot(rootPublicKey: Uint8Array): void {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootPublicKey);
}

/** Makes Baileys trust the sandbox's root instead of WhatsApp's (bare clients in tests and benches). */
export function trustSandboxRoot(): void {
  trustBaileysRoot(SANDBOX_ROOT_PUBLIC_KEY);
}

/** The admin base URL of a sandbox from its WebSocket URL (`ws://h:p/ws` → `http://h:p`). */
export function sandboxAdminUrl(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '';
  url.search = '';
  return url.origin;
}

/**
 * "Scans" a pairing QR through the admin API (`POST /api/sandbox/scan`), as auto-pairing clients
 * do: the QR carries the device's adv secret, so only whoever sees the QR can complete pairing —
 * the sandbox cannot pair a device by itself. Resolves with the new device's account.
 */
export async function scanSandboxQr(adminUrl: string, qr: string, options: { phone?: string; name?: string } = {}): Promise<{ phone: string; jid: string; device: number }> {
  const response = await fetch(`${adminUrl}/api/sandbox/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ qr, ...options }),
  });
  const body = (await response.json()) as { phone: string; jid: string; device: number } | { message?: string };
  if (!response.ok) {
    const message = 'message' in body && typeof body.message === 'string' ? body.message : `HTTP ${response.status}`;
    throw new Error(`sandbox scan failed: ${message}`);
  }
  return body as { phone: string; jid: string; device: number };
}

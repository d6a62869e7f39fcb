import { WA_CERT_DETAILS } from 'baileys';
import { SANDBOX_ROOT_PUBLIC_KEY } from './trust.js';

/**
 * What a Baileys client needs to join a sandbox (for the NOWEB engine in sandbox mode, tests, the
 * bench). Kept apart from the server so a client imports no server code.
 */

/**
 * Makes Baileys trust the sandbox's certificate root instead of WhatsApp's. Baileys reads
 * `WA_CERT_DETAILS.PUBLIC_KEY` (a plain mutable export) at verify time and has no per-socket
 * option, so this is process-wide: after it, the process can no longer verify real WhatsApp.
 */
export function trustSandboxRoot(): void {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(SANDBOX_ROOT_PUBLIC_KEY);
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

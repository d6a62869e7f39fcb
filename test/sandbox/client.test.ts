import { WA_CERT_DETAILS } from 'baileys';
import { afterEach, describe, expect, it } from 'vitest';
import { createNowebEngineFactory } from '../../src/engines/noweb/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY } from '../../src/sandbox/index.js';
import { WHATSAPP_ROOT_PUBLIC_KEY, trustBaileysRoot, trustSandboxRoot } from '../../src/sandbox/client.js';
import { silentLogger } from '../support/harness.js';

/** Issue 11: one place sets Baileys' process-wide trust root; the engine and bare clients use it. */
describe("Baileys' trust root", () => {
  afterEach(() => trustBaileysRoot(WHATSAPP_ROOT_PUBLIC_KEY));

  it("is WhatsApp's as Baileys ships it, until something trusts the sandbox", () => {
    expect(Buffer.from(WHATSAPP_ROOT_PUBLIC_KEY).equals(Buffer.from(SANDBOX_ROOT_PUBLIC_KEY))).toBe(false);
    trustSandboxRoot();
    expect(Buffer.from(WA_CERT_DETAILS.PUBLIC_KEY).equals(Buffer.from(SANDBOX_ROOT_PUBLIC_KEY))).toBe(true);
  });

  it("follows the engine factory's network: the sandbox's root, then WhatsApp's again", () => {
    createNowebEngineFactory({ logger: silentLogger, network: { kind: 'sandbox', url: 'ws://127.0.0.1:9/ws', rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY, autoPair: false } });
    expect(Buffer.from(WA_CERT_DETAILS.PUBLIC_KEY).equals(Buffer.from(SANDBOX_ROOT_PUBLIC_KEY))).toBe(true);
    createNowebEngineFactory({ logger: silentLogger, network: { kind: 'whatsapp' } });
    expect(Buffer.from(WA_CERT_DETAILS.PUBLIC_KEY).equals(Buffer.from(WHATSAPP_ROOT_PUBLIC_KEY))).toBe(true);
  });
});

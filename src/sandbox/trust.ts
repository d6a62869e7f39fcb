import { proto } from 'baileys';
import type { KeyPair } from './crypto.js';
import { keyPairFromSeed, sign } from './crypto.js';

/**
 * The sandbox's certificate authority. WhatsApp's web server proves itself with a chain
 * root → intermediate → leaf (the leaf certifies the Noise static key); Baileys checks the
 * intermediate against `WA_CERT_DETAILS.PUBLIC_KEY`. The sandbox has its own root, derived from a
 * fixed seed that is checked in here, so a client in another process can pin its public key
 * without talking to the sandbox first. These keys protect nothing: they exist so the chain is
 * well-formed and correctly signed, as a strict client would require.
 */
const ROOT_SEED = 'wa-presence sandbox root key v1';
const INTERMEDIATE_SEED = 'wa-presence sandbox intermediate key v1';
const SERVER_STATIC_SEED = 'wa-presence sandbox server static key v1';

const rootKeyPair: KeyPair = keyPairFromSeed(ROOT_SEED);

/** The 32-byte curve25519 public key a client sets as Baileys' `WA_CERT_DETAILS.PUBLIC_KEY` to trust the sandbox. */
export const SANDBOX_ROOT_PUBLIC_KEY: Uint8Array = new Uint8Array(rootKeyPair.public);

/** The sandbox server's Noise static key pair (the responder's `s`). */
export const SERVER_STATIC_KEY_PAIR: KeyPair = keyPairFromSeed(SERVER_STATIC_SEED);

// Baileys compares the intermediate's issuerSerial with WA_CERT_DETAILS.SERIAL, which is 0.
const ROOT_SERIAL = 0;
const INTERMEDIATE_SERIAL = 1;
const LEAF_SERIAL = 2;
const TEN_YEARS_S = 10 * 365 * 24 * 3600;

function certificate(details: proto.CertChain.NoiseCertificate.IDetails, issuer: KeyPair): proto.CertChain.INoiseCertificate {
  const encoded = proto.CertChain.NoiseCertificate.Details.encode(details).finish();
  return { details: encoded, signature: sign(issuer.private, encoded) };
}

/** The encoded `CertChain` sent (encrypted) in `serverHello.payload`, certifying `staticPublicKey`. */
export function buildCertChain(staticPublicKey: Uint8Array, nowSeconds: number): Uint8Array {
  const intermediate = keyPairFromSeed(INTERMEDIATE_SEED);
  const notBefore = nowSeconds - 3600;
  const notAfter = nowSeconds + TEN_YEARS_S;
  return proto.CertChain.encode({
    intermediate: certificate(
      { serial: INTERMEDIATE_SERIAL, issuerSerial: ROOT_SERIAL, key: intermediate.public, notBefore, notAfter },
      rootKeyPair,
    ),
    leaf: certificate(
      { serial: LEAF_SERIAL, issuerSerial: INTERMEDIATE_SERIAL, key: staticPublicKey, notBefore, notAfter },
      intermediate,
    ),
  }).finish();
}

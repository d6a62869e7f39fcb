/**
 * Run by `npm install` / `npm ci` (postinstall). Applies one fix to the pinned Baileys, idempotently,
 * and fails the install loudly if the file is not the one it was written for.
 *
 * Baileys 7.0.0-rc14 gives every socket its own AsyncLocalStorage (`addTransactionCapability`) and
 * never disables it (WhiskeySockets/Baileys#2806, unfixed upstream). On Node 20 and 22 every enabled
 * instance is visited for every promise the process creates afterwards, and each socket a session
 * opens (every reconnect) adds one for the life of the process: with 1,000 of them an `await` costs
 * ~70 µs instead of ~0.06 µs. The fix keeps one AsyncLocalStorage for all sockets, each socket's
 * transaction context under a key of its own, so what each socket sees is unchanged.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const baileys = join(root, 'node_modules', 'baileys');
const MARKER = 'wa-presence patch (scripts/patch-baileys.mjs)';
const EXPECTED_VERSION = '7.0.0-rc14';

const version = /"version"\s*:\s*"([^"]+)"/.exec(readFileSync(join(baileys, 'package.json'), 'utf8'))?.[1];
if (version !== EXPECTED_VERSION) {
  throw new Error(`scripts/patch-baileys.mjs was written for baileys ${EXPECTED_VERSION}, found ${version}: check whether WhiskeySockets/Baileys#2806 is fixed there and update or remove the patch`);
}

const file = join(baileys, 'lib', 'Utils', 'auth-utils.js');
const source = readFileSync(file, 'utf8');
if (!source.includes(MARKER)) patchTransactions(source);
patchSignatureCheck();

/** @param {string} source the unpatched auth-utils.js */
function patchTransactions(source) {
const IMPORT = "import { AsyncLocalStorage } from 'async_hooks';\n";
const PER_SOCKET = '    const txStorage = new AsyncLocalStorage();\n';
if (source.split(IMPORT).length !== 2 || source.split(PER_SOCKET).length !== 2) {
  throw new Error(`scripts/patch-baileys.mjs: ${file} does not have the expected lines; it was not patched`);
}

const SHARED = `${IMPORT}// ${MARKER}: one AsyncLocalStorage for every socket instead of one a
// socket, never disabled (WhiskeySockets/Baileys#2806). Each socket's context lives under its own key.
const sharedTxStorage = new AsyncLocalStorage();
const scopedTxStorage = () => {
    const scope = Symbol('transaction');
    return {
        getStore: () => sharedTxStorage.getStore()?.get(scope),
        run: (ctx, work) => {
            const contexts = new Map(sharedTxStorage.getStore());
            contexts.set(scope, ctx);
            return sharedTxStorage.run(contexts, work);
        }
    };
};
`;
const patched = source.replace(IMPORT, SHARED).replace(PER_SOCKET, `    const txStorage = scopedTxStorage(); // ${MARKER}\n`);
writeFileSync(file, patched);
process.stdout.write(`patched ${file} (WhiskeySockets/Baileys#2806)\n`);
}

/**
 * The second fix: libsignal (Baileys' dependency, pinned by the lockfile) checks XEdDSA signatures
 * with curve25519-js, pure JavaScript: about 15 ms of CPU a check, and Baileys checks the server's
 * certificate on every connection, a third of a session resume's CPU (bench/engine.ts). An XEdDSA
 * signature is an Ed25519 signature under the Edwards form of the Montgomery key, so the patched
 * check converts the key (y = (u − 1) / (u + 1) mod 2^255 − 19, the sign bit from the signature),
 * as curve25519-js does, and lets Node's native Ed25519 verify it (about 0.1 ms).
 * test/engines/noweb/baileys-patch.test.ts compares it with curve25519-js on valid and forged input.
 */
function patchSignatureCheck() {
  // The libsignal Baileys itself resolves.
  const curveFile = createRequire(join(baileys, 'package.json')).resolve('libsignal/src/curve.js');
  const curveSource = readFileSync(curveFile, 'utf8');
  if (curveSource.includes(MARKER)) return;
  const CALL = '    return isInit ? true : curveJs.verify(pubKey, msg, sig);\n';
  if (curveSource.split(CALL).length !== 2) {
    throw new Error(`scripts/patch-baileys.mjs: ${curveFile} does not have the expected signature check; it was not patched`);
  }
  const NATIVE = `
// ${MARKER}: XEdDSA checked by Node's native Ed25519 instead of curve25519-js (15 ms → 0.1 ms).
const ED25519_SPKI_PREFIX = Buffer.from([48, 42, 48, 5, 6, 3, 43, 101, 112, 3, 33, 0]);
const FIELD = (1n << 255n) - 19n;
function fieldPow(base, exponent) {
    let result = 1n;
    base %= FIELD;
    while (exponent > 0n) {
        if (exponent & 1n) result = (result * base) % FIELD;
        base = (base * base) % FIELD;
        exponent >>= 1n;
    }
    return result;
}
function nativeXeddsaVerify(montgomery, msg, sig) {
    let u = 0n;
    for (let i = 31; i >= 0; i -= 1) u = (u << 8n) | BigInt(montgomery[i]);
    u &= (1n << 255n) - 1n;
    let y = ((((u - 1n) % FIELD) + FIELD) % FIELD) * fieldPow(u + 1n, FIELD - 2n) % FIELD;
    const edwards = Buffer.alloc(32);
    for (let i = 0; i < 32; i += 1) {
        edwards[i] = Number(y & 255n);
        y >>= 8n;
    }
    edwards[31] |= sig[63] & 128;
    const signature = Buffer.from(sig);
    signature[63] &= 127;
    try {
        const key = nodeCrypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, edwards]), format: 'der', type: 'spki' });
        return nodeCrypto.verify(null, msg, key, signature);
    } catch {
        return false;
    }
}
`;
  const patchedCurve = curveSource
    .replace("const nodeCrypto = require('crypto');\n", `const nodeCrypto = require('crypto');\n${NATIVE}`)
    .replace(CALL, `    return isInit ? true : nativeXeddsaVerify(pubKey, msg, sig); // ${MARKER}\n`);
  if (!patchedCurve.includes('nativeXeddsaVerify(pubKey')) throw new Error(`scripts/patch-baileys.mjs: ${curveFile}: the native check was not inserted`);
  writeFileSync(curveFile, patchedCurve);
  process.stdout.write(`patched ${curveFile} (native XEdDSA signature check)\n`);
}

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
if (source.includes(MARKER)) process.exit(0);

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

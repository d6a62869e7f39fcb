import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const BAILEYS_ONLY_IN_ENGINE = { group: ['baileys', 'baileys/*'], message: 'Only src/engines/noweb and src/sandbox import baileys.' };
// Everything else works against the contracts in src/storage (Storage, ClusterStores, …); which
// backend runs is decided by src/storage's openers and the composition root (src/server.ts) alone.
const BACKENDS_ONLY_IN_STORAGE = {
  group: ['**/storage/sqlite', '**/storage/sqlite/*', '**/storage/postgres', '**/storage/postgres/*'],
  message: 'Only src/storage and the composition root (src/server.ts) import a storage backend; use the contracts in src/storage.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // scripts/*.mjs run at install time, before anything is built: plain JavaScript, outside tsconfig.
      parserOptions: { projectService: { allowDefaultProject: ['scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Only the NOWEB engine talks to WhatsApp through Baileys. The sandbox is the other side of the
    // same wire and reuses Baileys' binary-node codec and protobuf definitions (it is a protocol peer,
    // not a client), so it may import it too. Nothing else may.
    files: ['src/**/*.ts'],
    ignores: ['src/engines/noweb/**', 'src/sandbox/**', 'src/storage/**', 'src/server.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [BAILEYS_ONLY_IN_ENGINE, BACKENDS_ONLY_IN_STORAGE] }],
    },
  },
  {
    // The sandbox may import Baileys (see above), not a storage backend.
    files: ['src/engines/noweb/**/*.ts', 'src/sandbox/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [BACKENDS_ONLY_IN_STORAGE] }],
    },
  },
  {
    // Storage and the composition root may import a backend, not Baileys.
    files: ['src/storage/**/*.ts', 'src/server.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [BAILEYS_ONLY_IN_ENGINE] }],
    },
  },
  {
    // The domain is the centre: it imports nothing of ours from outside src/presence, and no framework.
    files: ['src/presence/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../*', '!./*'], message: 'src/presence imports nothing outside src/presence.' },
        { group: ['fastify', 'fastify/*', '@fastify/*', 'better-sqlite3', 'pg', 'baileys', 'ws', 'undici'], message: 'The domain knows no framework, driver or engine.' },
      ] }],
    },
  },
  {
    // Baileys' trust root is process-wide state: one function sets it (src/sandbox/client.ts).
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    ignores: ['src/sandbox/client.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "AssignmentExpression[left.type='MemberExpression'][left.property.name='PUBLIC_KEY']",
        message: "Set Baileys' trust root only through trustBaileysRoot (src/sandbox/client.ts).",
      }],
    },
  },
  {
    // Benchmarks and end-to-end tests measure and drive the server as it runs: they build it with
    // createServer (src/server.ts) and overrides, never by wiring the session layer themselves.
    files: ['bench/**/*.ts', 'test/e2e/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/src/sessions/manager.js', '**/src/sessions/manager'], message: 'Build the server with createServer (src/server.ts) and overrides instead of wiring the session layer.' },
      ] }],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The dashboard's browser modules: names are checked by `tsc -p tsconfig.dashboard.json` (DOM lib), not by no-undef.
    files: ['src/dashboard/page/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    ignores: ['src/engines/noweb/**', 'src/sandbox/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['baileys', 'baileys/*'], message: 'Only src/engines/noweb and src/sandbox import baileys.' }] }],
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
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The dashboard's browser modules: names are checked by `tsc -p tsconfig.dashboard.json` (DOM lib), not by no-undef.
    files: ['src/dashboard/page/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
);

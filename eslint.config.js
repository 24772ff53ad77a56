import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Each driver stays in its room (the directions between rooms: .dependency-cruiser.cjs). Types may be named anywhere.
const DRIVERS = {
  kysely: 'SQL is built in src/queries/ (connections and sessions in src/db/)',
  pg: 'connections are opened in src/db/ only',
  undici: 'HTTP goes through src/sinks/http.ts',
  '@electric-sql/pglite': 'the embedded database lives in src/demo/',
  '@electric-sql/pglite-socket': 'the embedded database lives in src/demo/',
};
const onlyIn = (files, ignores, allowed) => ({
  files,
  ignores,
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: Object.entries(DRIVERS)
          .filter(([name]) => !allowed.includes(name))
          .map(([name, message]) => ({ name, message: `${name}: ${message}`, allowTypeImports: true })),
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', '.bench-data/**', 'node_modules/**', 'bench/results.json', '.perf/**'] /* .perf: local measurement scripts, never committed */ },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['bench/**', 'bin/**'], rules: { 'no-console': 'off' } },
  onlyIn(['src/**/*.ts'], ['src/db/**', 'src/queries/**', 'src/sinks/http.ts', 'src/sinks/undici.ts', 'src/demo/**'], []),
  onlyIn(['src/queries/**/*.ts'], [], ['kysely']),
  onlyIn(['src/db/**/*.ts'], [], ['kysely', 'pg']),
  onlyIn(['src/sinks/http.ts', 'src/sinks/undici.ts', 'src/sinks/undici-internals.d.ts'], [], ['undici']),
  onlyIn(['src/demo/**/*.ts'], [], ['@electric-sql/pglite', '@electric-sql/pglite-socket']),
  // Plain JavaScript run by Node.js: the binary's entry and the build script.
  { files: ['bin/**/*.js', 'scripts/**/*.mjs'], languageOptions: { globals: { process: 'readonly', URL: 'readonly' } } },
  // dependency-cruiser reads its rules as CommonJS.
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } } },
);

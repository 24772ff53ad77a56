import { defineConfig } from 'vitest/config';

// With a real server (TEST_DATABASE_URL) test files run in parallel, each in its own schema. The embedded PGlite
// server is one backend behind a multiplexer, so files take turns.
const realServer = Boolean(process.env.TEST_DATABASE_URL);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: realServer,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{federation,node,simulations,bench,test,console}/**/*.test.ts'],
    setupFiles: ['node/polyfill.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});

import { defineConfig } from 'vitest/config';

/** `npm run test:cluster`: the failover tests (SIGKILL of gateways and NATS servers), CPU heavy, one file at a time. */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kernel tests bind real queues and run iptables: generous time, one file at a time.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    fileParallelism: false,
    // A skipped kernel test must fail the run, never pass silently.
    allowOnly: false,
  },
});

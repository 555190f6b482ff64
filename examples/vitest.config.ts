import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each example binds real queues and runs iptables in a namespace of its own.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    allowOnly: false,
  },
});

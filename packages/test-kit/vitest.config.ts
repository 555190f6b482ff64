import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The helpers run iptables and child processes in namespaces of their own.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    allowOnly: false,
  },
});

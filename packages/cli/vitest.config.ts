import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The kernel tests share dist-tarballs/ and spawn servers of their own: one file at a time.
    fileParallelism: false,
  },
});

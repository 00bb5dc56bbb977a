import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/vm/ runs in a cgroup v2 guest: scripts/test-vm.sh (vitest.vm.config.ts)
    exclude: [...configDefaults.exclude, 'test/vm/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // integration files start many real sandboxes; 2 cores here
    maxWorkers: 2,
  },
});

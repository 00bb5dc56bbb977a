// Tests that need a cgroup v2 + systemd guest (../shared/vm, scripts/test-vm.sh
// runs them there); `npm test` leaves them out.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the checkout is a read-only share for the guest's unprivileged user
  cacheDir: join(tmpdir(), 'rootless-sandbox-vitest-vm'),
  test: {
    include: ['test/vm/**/*.test.ts'],
    // the guest is emulated (TCG) on machines without hardware virtualisation: everything is 3-10x slower
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});

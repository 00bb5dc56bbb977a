// Unit tests of prepareCgroup's input checks, which run before it reads or
// makes anything on the host.
import { describe, expect, it } from 'vitest';
import { SandboxError } from '../../../src/errors.js';
import { isValidRunId, prepareCgroup, runCgroupName } from '../../../src/cgroup/prepare-cgroup.js';

describe('prepareCgroup input', () => {
  it('run ids must be safe cgroup and unit names', () => {
    for (const id of ['1234-1-abc123', 'a', 'x_y.z', '0'.repeat(64)]) expect(isValidRunId(id), id).toBe(true);
    for (const id of ['', '.hidden', '..', 'a/b', 'a b', 'x\n', '0'.repeat(65), 'a:b', 'é']) expect(isValidRunId(id), id).toBe(false);
    expect(runCgroupName('1-2-ab')).toBe('rootless-sandbox-1-2-ab');
  });

  it('refuses a bad run id or limit as an internal error', async () => {
    await expect(prepareCgroup({ memoryBytes: null, pids: null }, '../x')).rejects.toThrow(SandboxError);
    await expect(prepareCgroup({ memoryBytes: -1, pids: null }, 'ok')).rejects.toMatchObject({ code: 'internal', message: 'the memory limit for the cgroup must be a non-negative integer, got -1' });
    await expect(prepareCgroup({ memoryBytes: null, pids: 2.5 }, 'ok')).rejects.toMatchObject({ code: 'internal' });
  });
});

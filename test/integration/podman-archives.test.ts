// Archives written by the real `podman save` (docker-archive in the legacy
// layout with a symlinked layer, and oci-archive) load through the CLI, as
// root and as the unprivileged user. podman runs as root with its own
// storage in a temporary directory (vfs), from an image imported from a
// tarball: no network.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITIES, isRoot, runCli } from './harness.js';

const hasPodman = isRoot && spawnSync('podman', ['--version']).status === 0;
if (!hasPodman) console.warn('podman-archives: skipped: needs root and podman (apt-get install podman)');

describe.skipIf(!hasPodman)('podman save archives', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'podman-archives-'));
    chmodSync(work, 0o755);
    const src = join(work, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'hello'), 'hello from podman\n');
    writeFileSync(join(src, 'etc', 'os-release'), 'ID=podtest\n');
    execFileSync('tar', ['-C', src, '-cf', join(work, 'rootfs.tar'), '.']);
    const podman = (...args: string[]) => execFileSync('podman', ['--root', join(work, 'root'), '--runroot', join(work, 'run'),
      '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    podman('import', '--change', 'CMD ["/hello"]', '--change', 'ENV GREETING=hi', join(work, 'rootfs.tar'), 'localhost/podtest:1');
    podman('save', '--format', 'docker-archive', '-o', join(work, 'docker.tar'), 'localhost/podtest:1');
    podman('save', '--format', 'oci-archive', '-o', join(work, 'oci.tar'), 'localhost/podtest:1');
    for (const f of ['docker.tar', 'oci.tar']) chmodSync(join(work, f), 0o644);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each(IDENTITIES)('load as $name: the same config and layer from both formats, the file unpacked', async (who) => {
    const store = join(work, `store-${who.name}`);
    mkdirSync(store, { mode: 0o700 });
    chownSync(store, who.uid, who.gid);
    const ids = new Set<string>();
    const diffIds = new Set<string>();
    for (const archive of ['docker.tar', 'oci.tar']) {
      const r = await runCli(['image', 'load', '--store', store, join(work, archive)], { as: who });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('Loaded image: localhost/podtest:1\n');
      const j = JSON.parse((await runCli(['image', 'inspect', '--json', '--store', store, 'localhost/podtest:1'], { as: who })).stdout);
      expect(j.Config.Cmd).toEqual(['/hello']);
      expect(j.Config.Env).toContain('GREETING=hi');
      ids.add(j.Id);
      for (const d of j.RootFS.Layers) diffIds.add(d);
    }
    expect(ids.size).toBe(1);
    expect(diffIds.size).toBe(1);
    const [diffId] = [...diffIds];
    expect(readFileSync(join(store, 'layers', 'sha256', diffId!.slice(7), 'hello'), 'utf8')).toBe('hello from podman\n');
  });
});

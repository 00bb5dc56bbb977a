// The specs of the test images (for scripts/make-oci-image.mjs): what each
// image holds and its config. test/images/test-images.ts and the tests rely
// on these names, paths and config values.
//
//   node scripts/test-image-specs.mjs busybox|layered|debian OUT_DIR DEBIAN_ROOTFS_TAR
import { execFileSync } from 'node:child_process';
import { dirname, join, posix } from 'node:path';

const BUSYBOX = '/bin/busybox';
// Fixed times: the same inputs give the same digests on every machine.
const CREATED = '2024-01-01T00:00:00Z';
const MTIME = Date.parse(CREATED) / 1000;
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// the images hold this machine's busybox and debootstrap: its architecture
const ARCH = { x64: 'amd64', arm64: 'arm64', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }[process.arch] ?? process.arch;
const LABEL = 'org.opencontainers.image.vendor';

const dir = (name, mode = 0o755, owner = 0) => ({ name, type: 'directory', mode, uid: owner, gid: owner, mtime: MTIME });
const file = (name, content, mode = 0o644) => ({ name, type: 'file', content, mode, mtime: MTIME });

/** busybox-static, a symlink per applet, the files a shell and the tests need. */
function busyboxLayer() {
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'bin/busybox');
  const dirs = new Set(['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin']);
  for (const a of applets) for (let d = dirname(a); d !== '.'; d = dirname(d)) dirs.add(d);
  return [
    ...[...dirs].sort().map((d) => dir(d)),
    { name: 'bin/busybox', type: 'file', source: BUSYBOX, mode: 0o755, mtime: MTIME },
    ...applets.sort().map((a) => ({ name: a, type: 'symlink', linkname: posix.relative(dirname(a), 'bin/busybox'), mtime: MTIME })),
    dir('dev'), dir('proc', 0o555), dir('sys', 0o555), dir('root', 0o700), dir('tmp', 0o1777),
    dir('home'), dir('home/user', 0o755, 1000),
    dir('etc'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    file('etc/group', 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n'),
    // deleted by `layered` (whiteout)
    file('etc/motd', 'busybox test image\n'),
    // replaced by `layered` (opaque directory)
    dir('data'), file('data/old.txt', 'from the busybox layer\n'), dir('data/sub'), file('data/sub/nested.txt', 'nested, from the busybox layer\n'),
  ];
}

const specs = {
  busybox: () => ({
    ref: 'latest',
    config: { Env: [PATH], Cmd: ['/bin/sh'], Labels: { [LABEL]: 'rootless-sandbox test images', 'test.image': 'busybox' } },
    layers: [{ entries: busyboxLayer(), comment: 'busybox-static and its applets' }],
  }),
  layered: () => ({
    ref: 'latest',
    config: {
      Env: [PATH, 'FOO=bar'], Entrypoint: ['/bin/echo', 'entry'], Cmd: ['default-cmd'], WorkingDir: '/data', User: '1000:1000',
      Labels: { [LABEL]: 'rootless-sandbox test images', 'test.image': 'layered' },
    },
    layers: [
      { entries: busyboxLayer(), comment: 'busybox-static and its applets (the same blob as the busybox image)' },
      {
        comment: 'delete /etc/motd, replace /data',
        entries: [
          dir('etc'), file('etc/.wh.motd', ''),
          dir('data'), file('data/.wh..wh..opq', ''), file('data/new.txt', 'from layer 2\n'),
        ],
      },
      { comment: 'add /data/layer3.txt', entries: [dir('data'), file('data/layer3.txt', 'from layer 3\n')] },
    ],
  }),
  debian: (rootfsTar) => ({
    ref: 'bookworm',
    config: { Env: [PATH], Cmd: ['/bin/bash'], Labels: { [LABEL]: 'rootless-sandbox test images', 'test.image': 'debian' } },
    layers: [{ tar: rootfsTar, comment: 'debootstrap --variant=minbase bookworm' }],
  }),
};

const [name, outDir, rootfsTar] = process.argv.slice(2);
if (!specs[name] || !outDir || (name === 'debian' && !rootfsTar)) {
  console.error(`usage: node scripts/test-image-specs.mjs ${Object.keys(specs).join('|')} OUT_DIR DEBIAN_ROOTFS_TAR`);
  process.exit(2);
}
const spec = { out: join(outDir, name), created: CREATED, architecture: ARCH, os: 'linux', ...specs[name](rootfsTar) };
process.stdout.write(`${JSON.stringify(spec, null, 1)}\n`);

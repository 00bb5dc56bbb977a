// `sandbox exec IMAGE /bin/true` on an unpacked image, against the `host`
// image and against `podman run --rm` of the same image (podman with a
// private storage, loaded once from the same OCI layout): hyperfine for the
// CLIs, and per-run time through the library. Prints a Markdown table.
// Usage: node bench/image-run.mjs [runs]   (as root; tools and test images from bench/setup.sh)
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../dist/index.js';

const root = join(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 100);
const cli = [process.execPath, join(root, 'bin/sandbox.cjs')];
const images = process.env.SANDBOX_TEST_IMAGES ?? '/var/cache/rootless-sandbox/test-images';
const layout = join(images, 'busybox');
const work = mkdtempSync('/tmp/sandbox-bench-image-');
chmodSync(work, 0o711);
const store = join(work, 'store');
const name = 'localhost/bench/busybox:latest';

execFileSync(cli[0], [...cli.slice(1), 'image', 'load', '--store', store, '--name', name, '-q', `oci:${layout}`], { stdio: ['ignore', 'ignore', 'inherit'] });

// this machine's hybrid cgroup v1 and rlimits: crun refuses hybrid mode and podman's default NOFILE, so
// runc with cgroupfs and explicit ulimits (what podman needs here to run at all)
const podmanRoot = ['--root', join(work, 'podman'), '--runroot', join(work, 'podman-run'), '--storage-driver', 'overlay',
  '--cgroup-manager', 'cgroupfs', '--runtime', 'runc'];
const podmanRun = ['run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const podman = process.getuid() === 0 && spawnSync('podman', ['--version']).status === 0;
// podman's overlay mounts and the stores go away however the benchmark ends
const cleanUp = () => {
  if (podman) spawnSync('podman', [...podmanRoot, 'system', 'reset', '-f'], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanUp);
if (podman) execFileSync('podman', [...podmanRoot, 'pull', '-q', `oci:${layout}:latest`], { stdio: ['ignore', 'ignore', 'inherit'] });
const podmanImage = podman ? execFileSync('podman', [...podmanRoot, 'images', '-q'], { encoding: 'utf8' }).trim().split('\n')[0] : null;

function hyperfine(commands) {
  const out = join(work, 'hyperfine.json');
  execFileSync('hyperfine', ['-N', '--warmup', '3', '--runs', '30', '--export-json', out, ...commands], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8')).results.map((r) => ({ meanMs: r.mean * 1000, sdMs: r.stddev * 1000 }));
}

async function perRun(fn, n) {
  for (let i = 0; i < 5; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

const quiet = ['ignore', 'ignore', 'inherit'];
const run = (image) => async () => {
  const r = await exec({ image, command: ['/bin/true'], store, stdio: quiet });
  if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
};
const rounds = 5;
const hostRounds = [];
const imageRounds = [];
for (let i = 0; i < rounds; i++) {
  hostRounds.push(await perRun(run('host'), Math.ceil(runs / rounds)));
  imageRounds.push(await perRun(run(name), Math.ceil(runs / rounds)));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const shell = (args) => args.map((a) => (/^[\w./=:@-]+$/.test(a) ? a : `'${a}'`)).join(' ');
const commands = [
  shell([...cli, 'exec', 'host', '/bin/true']),
  shell([...cli, 'exec', '--store', store, name, '/bin/true']),
  ...(podman ? [shell(['podman', ...podmanRoot, ...podmanRun, podmanImage, '/bin/true'])] : []),
];
const rows = hyperfine(commands);
const [host, image, pod] = rows;

const lines = [
  `### ${new Date().toISOString().slice(0, 10)}, ${process.getuid() === 0 ? 'root' : 'unprivileged user'}: \`/bin/true\` in the busybox test image (unpacked)`,
  '',
  '| what (CLI, hyperfine) | mean | ± | vs host image |',
  '|---|---|---|---|',
  `| \`sandbox exec host /bin/true\` | ${host.meanMs.toFixed(1)} ms | ${host.sdMs.toFixed(1)} ms | 1.00× |`,
  `| \`sandbox exec IMAGE /bin/true\` (native overlay) | ${image.meanMs.toFixed(1)} ms | ${image.sdMs.toFixed(1)} ms | ${(image.meanMs / host.meanMs).toFixed(2)}× |`,
  ...(pod ? [`| \`podman run --rm --network none IMAGE /bin/true\` (runc, cgroupfs, private overlay storage) | ${pod.meanMs.toFixed(1)} ms | ${pod.sdMs.toFixed(1)} ms | ${(pod.meanMs / host.meanMs).toFixed(2)}× (sandbox is ${(pod.meanMs / image.meanMs).toFixed(1)}× faster) |`] : []),
  '',
  `| per run through the library (${rounds} interleaved rounds of ${Math.ceil(runs / rounds)}) | median |`,
  '|---|---|',
  `| \`exec({ image: 'host' })\` | ${median(hostRounds).toFixed(2)} ms |`,
  `| \`exec({ image: '${name}' })\` | ${median(imageRounds).toFixed(2)} ms (${(median(imageRounds) / median(hostRounds)).toFixed(2)}×) |`,
  '',
];
console.log(lines.join('\n'));

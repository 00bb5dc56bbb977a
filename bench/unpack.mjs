// Unpack throughput of one large gzip layer (the debian test image's
// debootstrap minbase layer) by our unpackLayer, GNU `tar -xzf` and
// `podman load` (a private --root storage, removed after each run), each
// into a fresh directory on the same file system, interleaved rounds,
// median. Prints a Markdown table.
// Usage: node bench/unpack.mjs [runs] [--only ours|tar|podman] [--keep-going]
//   (as root; the image from scripts/build-test-images.sh, podman from bench/setup.sh)
// Profile ours: node --cpu-prof --cpu-prof-dir=/tmp/prof bench/unpack.mjs 1 --only ours
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const images = process.env.SANDBOX_TEST_IMAGES ?? '/var/cache/rootless-sandbox/test-images';
const layout = join(images, 'debian');

function die(message, hint) {
  console.error(`bench/unpack: ${message}${hint ? `\n  hint: ${hint}` : ''}`);
  process.exit(1);
}

// ---------------------------------------------------------------- the layer
let manifest;
try {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  manifest = JSON.parse(readFileSync(join(layout, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'));
} catch (e) {
  die(`cannot read the debian test image at ${layout}: ${e.message}`, 'sudo bash scripts/build-test-images.sh');
}
const layerDigest = manifest.layers[0].digest;
const diffId = JSON.parse(readFileSync(join(layout, 'blobs', ...manifest.config.digest.split(':')), 'utf8')).rootfs.diff_ids[0];
const blob = join(layout, 'blobs', ...layerDigest.split(':'));
const compressedBytes = statSync(blob).size;
// uncompressed size (and a warm page cache for the blob, the same for every tool)
let tarBytes = 0;
for await (const c of createReadStream(blob).pipe(createGunzip())) tarBytes += c.length;
const MB = 1e6;

// ---------------------------------------------------------------- work dirs
// Under $BENCH_DIR or $TMPDIR (the same file system as the image cache
// here; BENCH_DIR=/dev/shm shows the CPU cost without the file system's);
// one fresh directory per run, removed and synced outside the timed part.
const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'sandbox-bench-unpack-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let serial = 0;
const freshDir = () => {
  const d = join(work, `t${serial++}`);
  mkdirSync(d);
  return d;
};
const settle = (dir) => {
  rmSync(dir, { recursive: true, force: true });
  spawnSync('sync');
};
const fsType = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', work], { encoding: 'utf8' }).stdout.split('\n')[0].trim() || 'file system unknown';
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

// ---------------------------------------------------------------- ours
// unpack-layer.ts bundled as is (tar-stream and fzstd inside), like the library build
const bundle = join(work, 'unpack-layer.mjs');
await build({
  entryPoints: [join(root, 'src/image/unpack/unpack-layer.ts')], bundle: true, platform: 'node', target: 'node20',
  format: 'esm', outfile: bundle, logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const { unpackLayer } = await import(pathToFileURL(bundle).href);
// As root, ours applies the archive's owners like tar does as root (chown: true
// is what the store does in a user namespace); modes and mtimes both ways.
const chown = process.getuid() === 0;
let oursReport = null;
async function ours() {
  const dir = freshDir();
  const t0 = process.hrtime.bigint();
  // expectDiffId: the store's path, which hashes the tar while it unpacks
  oursReport = await unpackLayer(createReadStream(blob, { highWaterMark: 1 << 20 }), dir, { chown, expectDiffId: diffId });
  const t = seconds(t0);
  settle(dir);
  rmSync(`${dir}.whiteouts.json`, { force: true });
  return t;
}

// ---------------------------------------------------------------- tar
function tar() {
  const dir = freshDir();
  const t0 = process.hrtime.bigint();
  execFileSync('tar', ['-xzf', blob, '-C', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const t = seconds(t0);
  settle(dir);
  return t;
}

// ---------------------------------------------------------------- podman load
// An oci-archive of the debian layout (not timed); each run loads it into a
// new private storage. vfs: a single-layer image unpacks the same way under
// overlay, and vfs needs no mounts to clean up.
// root only: rootless podman needs its own set-up (a shared /, a writable
// image_copy_tmp_dir), and its numbers would be another comparison
const isRoot = process.getuid() === 0;
const havePodman = isRoot && spawnSync('podman', ['--version']).status === 0;
let archive = null;
let podmanRun = null;
if (havePodman) {
  archive = join(work, 'debian.oci-archive.tar');
  execFileSync('tar', ['-cf', archive, '-C', layout, '.']);
  // podman refuses a runroot longer than 50 characters: its run state goes to /tmp
  podmanRun = mkdtempSync('/tmp/sandbox-bench-podman-');
  process.on('exit', () => rmSync(podmanRun, { recursive: true, force: true }));
}
function podman() {
  const n = serial++;
  const store = join(work, `p${n}`); // the layer lands here, next to the other tools' directories
  const run = join(podmanRun, `r${n}`);
  mkdirSync(join(store, 'tmp'), { recursive: true });
  const pm = ['--root', store, '--runroot', run, '--tmpdir', join(run, 'libpod'),
    '--network-config-dir', join(run, 'net'), '--storage-driver', 'vfs', '--events-backend', 'none', '--cgroup-manager', 'cgroupfs'];
  const env = { ...process.env, TMPDIR: join(store, 'tmp') };
  const t0 = process.hrtime.bigint();
  execFileSync('podman', [...pm, 'load', '-q', '-i', archive], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const t = seconds(t0);
  execFileSync('podman', [...pm, 'rmi', '-a', '-f'], { env, stdio: 'ignore' });
  settle(store);
  rmSync(run, { recursive: true, force: true });
  return t;
}

// ---------------------------------------------------------------- runs
const tools = [
  { key: 'ours', label: '`unpackLayer` (ours, in-process, diff ID checked)', fn: ours },
  { key: 'tar', label: 'GNU `tar -xzf`', fn: tar },
  ...(havePodman ? [{ key: 'podman', label: '`podman load` (oci-archive, vfs, private storage)', fn: podman }] : []),
].filter((t) => !only || t.key === only);
if (!havePodman && (!only || only === 'podman')) {
  console.error(`bench/unpack: ${isRoot ? 'podman not found (bash bench/setup.sh installs it)' : 'not root'}: the podman row is left out`);
}

const times = new Map(tools.map((t) => [t.key, []]));
for (let r = 0; r < runs; r++) {
  for (const t of tools) times.get(t.key).push(await t.fn());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tarMedian = times.has('tar') ? median(times.get('tar')) : null;
const who = process.getuid() === 0 ? 'root' : 'unprivileged user';
const version = (cmd) => spawnSync(cmd, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const entries = oursReport ? `, ${oursReport.entries} entries` : '';
console.log([
  `### ${new Date().toISOString().slice(0, 10)}, ${who}: unpack one gzip layer (${(compressedBytes / MB).toFixed(1)} MB gzip, ${(tarBytes / MB).toFixed(1)} MB tar${entries})`,
  '',
  `${runs} interleaved rounds, each into a fresh directory under ${process.env.BENCH_DIR ?? tmpdir()} (${fsType}), page cache warm, no fsync by any tool;`,
  `${version('tar')}${havePodman ? `, ${version('podman')}` : ''}.`,
  '',
  '| what | median | min | max | MB/s (tar bytes) | vs tar |',
  '|---|---|---|---|---|---|',
  ...tools.map((t) => {
    const xs = times.get(t.key);
    const m = median(xs);
    return `| ${t.label} | ${m.toFixed(2)} s | ${Math.min(...xs).toFixed(2)} s | ${Math.max(...xs).toFixed(2)} s | ${(tarBytes / MB / m).toFixed(0)} | ${tarMedian ? `${(tarMedian / m).toFixed(2)}×` : '–'} |`;
  }),
  '',
].join('\n'));

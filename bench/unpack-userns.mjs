// Unpack time of one ~50 MB gzip layer: in this process (unpackLayer, no
// owners) against inside the user namespace (unpackLayerInUserns: stage,
// newuidmap, a Node worker, owners kept and whiteouts made), with GNU
// `tar -xzf` as the yardstick. Median of N runs each; prints Markdown.
// Usage: node bench/unpack-userns.mjs [runs=5]  (after npm run build)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const runs = Number(process.argv[2] ?? 5);
const repo = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'bench-unpack-'));
execFileSync('chmod', ['755', work]);

// the modules under test, bundled from src/ as the tests do
const entry = join(work, 'lib.mjs');
await build({
  stdin: {
    contents: `export { unpackLayer } from './src/image/unpack/unpack-layer.ts';
export { unpackLayerInUserns } from './src/image/unpack/unpack-in-userns.ts';
export { removeTreeInUserns } from './src/image/unpack/remove-tree-in-userns.ts';`,
    resolveDir: repo, loader: 'ts', sourcefile: 'lib.ts',
  },
  bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: entry, packages: 'external', logLevel: 'warning',
  define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(repo, 'src', 'package-root.ts')).href) },
});
symlinkSync(join(repo, 'node_modules'), join(work, 'node_modules'));
const { unpackLayer, unpackLayerInUserns, removeTreeInUserns } = await import(pathToFileURL(entry).href);

// ~50 MB: 360 files of 128 KiB half-random (gzip gets ~2x), 3000 small text files in 30 dirs
const src = join(work, 'src');
for (let d = 0; d < 30; d++) {
  mkdirSync(join(src, `dir${d}`), { recursive: true });
  for (let f = 0; f < 100; f++) writeFileSync(join(src, `dir${d}`, `small${f}.txt`), `file ${d}/${f}\n`.repeat(40));
}
mkdirSync(join(src, 'big'));
for (let f = 0; f < 360; f++) writeFileSync(join(src, 'big', `blob${f}`), Buffer.concat([randomBytes(64 * 1024), Buffer.alloc(64 * 1024, f)]));
const blob = join(work, 'layer.tar.gz');
execFileSync('tar', ['-C', src, '--owner=0', '--group=0', '-czf', blob, '.']);
const blobMiB = statSync(blob).size / 2 ** 20;
const tarMiB = Number(execFileSync('sh', ['-c', `gzip -dc ${blob} | wc -c`]).toString()) / 2 ** 20;

// a one-file layer: what starting the stage, newuidmap/newgidmap and the Node worker costs
mkdirSync(join(work, 'tiny'));
writeFileSync(join(work, 'tiny', 'hello'), 'hi\n');
const tiny = join(work, 'tiny.tar.gz');
execFileSync('tar', ['-C', join(work, 'tiny'), '-czf', tiny, '.']);

async function time(fn) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(work, 'out-'));
    const t0 = performance.now();
    await fn(dir);
    ms.push(performance.now() - t0);
    await removeTreeInUserns([dir], { within: [work] });
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)];
}

const rows = [
  ['GNU tar -xzf (no owners)', await time(async (dir) => execFileSync('tar', ['-C', dir, '--no-same-owner', '-xzf', blob]))],
  ['unpackLayer in this process (no owners)', await time((dir) => unpackLayer(createReadStream(blob), dir, { whiteouts: 'overlay' }))],
  ['unpackLayerInUserns (owners kept, stage + worker)', await time((dir) => unpackLayerInUserns(blob, dir))],
];
const fixed = [
  ['unpackLayer in this process, one-file layer', await time((dir) => unpackLayer(createReadStream(tiny), dir, { whiteouts: 'overlay' }))],
  ['unpackLayerInUserns, one-file layer (fixed cost)', await time((dir) => unpackLayerInUserns(tiny, dir))],
];
console.log(`### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, uid ${process.getuid()}: unpack of one layer (${blobMiB.toFixed(1)} MiB gzip, ${tarMiB.toFixed(1)} MiB tar, 3660 files), median of ${runs}\n`);
console.log('| what | ms | MiB/s (tar) | vs tar |');
console.log('|---|---|---|---|');
for (const [what, ms] of rows) console.log(`| ${what} | ${ms.toFixed(0)} | ${(tarMiB / (ms / 1000)).toFixed(0)} | ${(rows[0][1] / ms).toFixed(2)}× |`);
console.log('\n| fixed cost | ms |\n|---|---|');
for (const [what, ms] of fixed) console.log(`| ${what} | ${ms.toFixed(1)} |`);
rmSync(work, { recursive: true, force: true });

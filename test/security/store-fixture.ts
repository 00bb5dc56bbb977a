// Test helper for the store attacks (store-reach.test.ts, layer-removal.test.ts):
// a small image whose layer holds what an attacker wants on the host (a
// setuid and a setgid copy of busybox, a 0777 file, a 1777 directory),
// loaded into a store of its owner's through the real CLI, and a way to
// act as another local user (or as a subordinate id) and report errnos.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, ociLayout, writeTree } from '../unit/image/load/image-builder.js';
import { gzip, tarOf, type TestEntry } from '../unit/image/unpack/layer-archive.js';
import { runCli, type Identity } from '../integration/harness.js';

export const BUSYBOX = '/bin/busybox';
export const haveBusybox = existsSync(BUSYBOX) && spawnSync('file', ['-L', BUSYBOX]).stdout?.toString().includes('statically');

const APPLETS = ['sh', 'cat', 'cp', 'chmod', 'echo', 'id', 'ls', 'tr', 'sleep', 'stat', 'mkdir', 'grep', 'head'];

/** The image as an OCI layout in `dir` (readable by everyone); returns the layer's diff ID hex. */
export async function writeHostileImage(dir: string): Promise<string> {
  const bb = readFileSync(BUSYBOX);
  const entries: TestEntry[] = [
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', mode: 0o755, body: bb },
    ...APPLETS.map((a): TestEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'bin/suid', mode: 0o4755, uid: 0, gid: 0, body: bb },
    { name: 'bin/sgid', mode: 0o2755, uid: 0, gid: 0, body: bb },
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/passwd', mode: 0o644, body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'etc/group', mode: 0o644, body: 'root:x:0:\n' },
    { name: 'open', mode: 0o777, body: 'original\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
  const tar = await tarOf(entries);
  const image = buildImage([{ blob: gzip(tar), tar, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }], { cmd: ['/bin/sh'] });
  writeTree(dir, ociLayout([{ image }]));
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return execFileSync('sha256sum', { input: tar }).toString().slice(0, 64);
}

/** A directory of `as`'s (0755, as a home is) holding `store`, not made yet. */
export function storeOf(base: string, as: Identity): string {
  const home = join(base, as.name);
  mkdirSync(home, { mode: 0o755 });
  chmodSync(home, 0o755);
  chownSync(home, as.uid, as.gid);
  return join(home, 'store');
}

/** Loads the layout into `store` as `as` and names it `name`; returns the layer's directory. */
export async function loadImage(layout: string, store: string, as: Identity, name: string, layerHex: string): Promise<string> {
  const load = await runCli(['image', 'load', '--store', store, `oci:${layout}`], { as, timeoutMs: 60_000 });
  if (load.code !== 0) throw new Error(`image load as ${as.name}: ${load.stderr}`);
  const id = /sha256:([0-9a-f]{64})/.exec(load.stdout)![1]!;
  const tag = await runCli(['image', 'tag', '--store', store, id, name], { as });
  if (tag.code !== 0) throw new Error(`image tag as ${as.name}: ${tag.stderr}`);
  return join(store, 'layers', 'sha256', layerHex);
}

/** Every regular file (or other non-directory, non-link) below `dir` whose mode has o+w. */
export function worldWritableFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (!st.isSymbolicLink() && st.mode & 0o002) out.push(`${p} ${(st.mode & 0o7777).toString(8)}`);
    }
  };
  walk(dir);
  return out;
}

export interface Attempts {
  /** Executed with `id -u` (a busybox copy): what it printed, or the errno. */
  readonly exec?: readonly string[];
  /** Opened for writing: 'opened', or the errno. */
  readonly write?: readonly string[];
  /** Listed: 'listed', or the errno. */
  readonly list?: readonly string[];
}

const ATTEMPT = `
const fs = require('fs'); const cp = require('child_process');
const a = JSON.parse(process.argv[1]); const out = {};
const code = (e) => e.code || String(e);
for (const p of a.exec || []) { const r = cp.spawnSync(p, ['id', '-u'], { encoding: 'utf8' }); out['exec ' + p] = r.error ? code(r.error) : r.stdout.trim(); }
for (const p of a.write || []) { try { fs.closeSync(fs.openSync(p, 'r+')); out['write ' + p] = 'opened'; } catch (e) { out['write ' + p] = code(e); } }
for (const p of a.list || []) { try { fs.readdirSync(p); out['list ' + p] = 'listed'; } catch (e) { out['list ' + p] = code(e); } }
process.stdout.write(JSON.stringify(out));
`;

/** Tries everything in `attempts` as host uid/gid `who` (another local user), in a fresh process; returns what happened per attempt. */
export function attemptAs(who: { uid: number; gid: number }, attempts: Attempts): Record<string, string> {
  const r = spawnSync(process.execPath, ['-e', ATTEMPT, JSON.stringify(attempts)], { uid: who.uid, gid: who.gid, cwd: '/', encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  if (r.status !== 0) throw new Error(`attempt as ${who.uid}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>;
}

// Test helper: builds layer archives in memory with tar-stream's pack(),
// optionally gzip- or zstd-compressed (zstd through the `zstd` CLI: fzstd
// only decompresses), and temp directories to unpack them into.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, lstatSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export type TestEntry = Partial<tar.Header> & { name: string; body?: string | Buffer };

export async function tarOf(entries: TestEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: Buffer) => chunks.push(c));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ mtime: new Date(1_600_000_000_000), ...header }, body ?? '', (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const gzip = (b: Buffer) => gzipSync(b);

export const HAVE_ZSTD = spawnSync('zstd', ['--version']).status === 0;

export function zstd(b: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 });
}

export const streamOf = (b: Buffer) => Readable.from([b]);

/** A fresh temp parent with an empty `layer` directory inside. */
export function tempLayer(prefix = 'unpack-'): { parent: string; target: string } {
  const parent = mkdtempSync(join(tmpdir(), prefix));
  const target = join(parent, 'layer');
  execFileSync('mkdir', [target]);
  return { parent, target };
}

/** Every path below `dir` (not following symlinks) with its type and symlink target: a comparable snapshot. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${r} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r}/`);
        walk(p, r);
      } else out.push(`${r} (${st.size})`);
    }
  };
  walk(dir, '');
  return out;
}

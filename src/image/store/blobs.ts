// Blobs in the store: blobs/sha256/<hex>, each renamed into place only after
// its sha256 was checked, so a blob that has its name is complete and right.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SandboxError } from '../../errors.js';
import { hostError, random, statOrNull } from './store-fs.js';
import { digestHex, type StorePaths } from './store-paths.js';

export async function hasBlob(paths: StorePaths, digest: string): Promise<boolean> {
  const st = await statOrNull(paths.blob(digest));
  return st !== null && st.isFile();
}

/** Stores a blob under its digest after verifying it; a stream or a file path. Returns the blob's path. */
export async function putBlob(paths: StorePaths, source: Readable | string, expectedDigest: string): Promise<string> {
  const hex = digestHex(expectedDigest, 'blob digest');
  const dest = paths.blob(expectedDigest);
  const from = typeof source === 'string' ? source : 'the stream';
  if (await hasBlob(paths, expectedDigest)) {
    // only verified blobs get their name: nothing to do
    if (typeof source !== 'string') source.destroy();
    return dest;
  }
  const tmp = join(paths.blobsShaDir, `.tmp-${random()}-${hex.slice(0, 12)}`);
  const hash = createHash('sha256');
  let input: Readable | undefined = typeof source === 'string' ? undefined : source;
  try {
    // both files are opened before the copy starts: a stream that opens
    // lazily could create tmp after a failure had already removed it
    input ??= (await fsp.open(source as string, 'r')).createReadStream();
    const out = await fsp.open(tmp, 'wx', 0o644);
    await pipeline(input, async function* (chunks: AsyncIterable<Buffer | string>) {
      for await (const c of chunks) {
        const b = typeof c === 'string' ? Buffer.from(c) : c;
        hash.update(b);
        yield b;
      }
    }, out.createWriteStream());
    const fh = await fsp.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    input?.destroy();
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw hostError(`cannot store blob ${expectedDigest} from ${from}`, e,
      typeof source === 'string' ? `check that ${source} is readable and the image store is writable` : 'check that the image store is writable; set SANDBOX_STORE to move it');
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== expectedDigest) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw new SandboxError('config', `blob digest mismatch for ${from}: expected ${expectedDigest}, got ${actual}`,
      'the blob is corrupt or was tampered with; nothing was stored: download it again');
  }
  try {
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw hostError(`cannot store blob ${dest}`, e);
  }
  return dest;
}

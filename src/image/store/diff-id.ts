// The diff ID of a layer: the sha256 of its UNCOMPRESSED tar (what an image
// config's rootfs.diff_ids lists), one streaming pass over the decompressed
// blob. Decompression (gzip, zstd, none, sniffed) is decompress.ts's, with
// the same cap on decompressed bytes the unpacker uses.
// Must not: unpack or parse the tar.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSandboxError, SandboxError } from '../../errors.js';
import { byteCap, decompressor } from '../unpack/decompress.js';
import { DEFAULT_MAX_BYTES } from '../unpack/unpack-layer.js';

/** Decompressed bytes allowed by default: the unpacker's data limit plus room for tar framing. */
export const DEFAULT_MAX_TAR_BYTES = DEFAULT_MAX_BYTES + 1024 ** 3;

/** "sha256:<hex>" of the uncompressed tar in the layer blob at `blobPath`. */
export async function diffIdOf(blobPath: string, maxBytes = DEFAULT_MAX_TAR_BYTES): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb();
    },
  });
  try {
    const { input, decoder } = await decompressor(createReadStream(blobPath), 'auto');
    const cap = byteCap(maxBytes, `uncompressed layer ${blobPath}`);
    if (decoder) await pipeline(input, decoder, cap, sink);
    else await pipeline(input, cap, sink);
  } catch (e) {
    if (isSandboxError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      throw new SandboxError('host', `cannot read layer blob ${blobPath}: ${code}`, 'pull the image again');
    }
    throw new SandboxError('config', `layer blob ${blobPath} cannot be decompressed: ${(e as Error).message}`,
      'the blob is corrupt; remove the image, prune the store and pull it again');
  }
  return `sha256:${hash.digest('hex')}`;
}

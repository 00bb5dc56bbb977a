// Verifies a downloaded blob against its OCI digest before anything reads
// it: a streaming sha256 of the compressed bytes exactly as stored.
// Must not: unpack, decompress or trust the file's name. The layer
// unpacker takes an already verified stream: verify first, then unpack
// (open the file once more, or better, verify a private copy nobody else writes).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { layerError } from './layer-refusal.js';

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** Resolves when `file`'s sha256 is `digest` ("sha256:<64 lower-case hex>"), rejects otherwise. */
export async function verifyDigest(file: string, digest: string): Promise<void> {
  if (!SHA256.test(digest)) {
    throw layerError(`unsupported digest '${digest}' for ${file}`, "expected 'sha256:' followed by 64 lower-case hex digits");
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) {
    throw layerError(
      `digest mismatch for ${file}: expected ${digest}, got ${actual}`,
      'the blob is corrupt or was tampered with; delete it and download it again',
    );
  }
}

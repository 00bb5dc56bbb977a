// Turns a (verified) layer blob stream into the plain tar byte stream:
// gzip through node:zlib, zstd through fzstd (pure JS: Node 20 has no zstd),
// 'auto' by sniffing the magic bytes. Owns: the magic numbers and a hard
// cap on the decompressed bytes (a decompression bomb is stopped while it
// streams, never after).
// Must not: parse tar or touch the file system.
import { Duplex, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { layerError } from './layer-refusal.js';

export type LayerCompression = 'gzip' | 'zstd' | 'none' | 'auto';

// Node's async zlib inflates one output chunk per thread-pool round trip and
// waits for the main thread between chunks: 16 KiB (the default) means
// ~10 000 hops for a 160 MB layer and inflate stalls while entries are
// written. 256 KiB chunks and a matching buffer let it run ahead.
const GUNZIP_OPTIONS = { chunkSize: 256 * 1024, highWaterMark: 1024 * 1024 };

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

export function sniffCompression(head: Uint8Array): 'gzip' | 'zstd' | 'none' {
  const starts = (magic: number[]) => magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/**
 * fzstd's streaming API as a backpressured Duplex. Input is fed in small
 * slices and the output of each slice is yielded before the next one: a
 * slice of RLE blocks can expand a thousandfold, so feeding a whole chunk
 * at once would buffer a bomb in memory before any byte cap downstream saw it.
 */
const ZSTD_SLICE = 256;
function zstdDecoder(): Duplex {
  return Duplex.from(async function* (input: AsyncIterable<Buffer>) {
    const pending: Buffer[] = [];
    const z = new Decompress((chunk) => {
      if (chunk.length) pending.push(Buffer.from(chunk)); // a copy: fzstd may reuse its window
    });
    const push = (slice: Uint8Array, final: boolean) => {
      try {
        z.push(slice, final);
      } catch (e) {
        throw layerError(`zstd stream is corrupt or truncated: ${(e as Error).message}`);
      }
    };
    for await (const chunk of input) {
      for (let off = 0; off < chunk.length; off += ZSTD_SLICE) {
        push(chunk.subarray(off, off + ZSTD_SLICE), false);
        while (pending.length) yield pending.shift()!;
      }
    }
    push(new Uint8Array(0), true);
    while (pending.length) yield pending.shift()!;
  });
}

/** Counts bytes passing through and fails the stream as soon as more than `max` went by. */
export function byteCap(max: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > max) cb(layerError(`${what} exceeds ${max} bytes (decompression bomb?)`));
      else cb(null, chunk);
    },
  });
}

/**
 * The blob stream with its first bytes peeked (to sniff 'auto') and put
 * back in front: a new Readable of Buffers that reads on from `source`.
 */
async function peek(source: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < bytes) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const c = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(c);
    length += c.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  }
  return { head, stream: Readable.from(rest(), { objectMode: false }) };
}

/**
 * The decompressor for `compression` ('auto' sniffs the first bytes) and
 * the stream to feed it with (`source`, or a re-assembled one after a peek).
 * `decoder` is null for plain tar.
 */
export async function decompressor(
  source: Readable,
  compression: LayerCompression,
): Promise<{ kind: 'gzip' | 'zstd' | 'none'; input: Readable; decoder: Duplex | null }> {
  let input = source;
  let kind: 'gzip' | 'zstd' | 'none';
  if (compression === 'auto') {
    const peeked = await peek(source, ZSTD_MAGIC.length);
    input = peeked.stream;
    kind = sniffCompression(peeked.head);
  } else {
    kind = compression;
  }
  if (kind === 'gzip') return { kind, input, decoder: createGunzip(GUNZIP_OPTIONS) };
  if (kind === 'zstd') return { kind, input, decoder: zstdDecoder() };
  return { kind, input, decoder: null };
}

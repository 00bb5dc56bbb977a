// Streams the entries of an image archive (a tar, plain or gzip/zstd
// compressed, as `podman save`, `docker save` and `skopeo copy` write them)
// without extracting anything: the loaders read what they need in two
// passes (scan, then copy the wanted blobs into the store).
// Owns: the entry count limit, entry name normalisation (and refusing
// names that are absolute or climb with ".."), duplicate names, in-archive
// symlinks resolved without leaving the archive.
// Must not: write to the file system.
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { isSandboxError } from '../../errors.js';
import { byteCap, decompressor } from '../unpack/decompress.js';
import { LOAD_LIMITS, loadError } from './load-error.js';

export interface ArchiveEntry {
  /** Normalised: no leading "./", no empty or "." components. */
  readonly name: string;
  readonly type: 'file' | 'symlink' | 'other';
  readonly size: number;
  /** For symlinks, the target as written. */
  readonly linkname: string | null;
}

/** An entry's name as a plain relative path, or an error naming the entry. */
export function normaliseArchiveName(file: string, raw: string, what = 'entry'): string {
  if (raw.includes('\0') || raw === '' || raw.startsWith('/')) {
    throw loadError(file, `${what} "${raw.replace(/\0/g, '\\0')}"`, 'absolute or empty name', 'the archive is hostile or corrupt; nothing was recorded');
  }
  const parts: string[] = [];
  for (const c of raw.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw loadError(file, `${what} "${raw}"`, 'the name climbs out of the archive with ".."', 'the archive is hostile or corrupt; nothing was recorded');
    parts.push(c);
  }
  if (parts.length === 0) return '.';
  return parts.join('/');
}

/**
 * Calls `fn` for every entry of the archive `file`, in order, with its data
 * stream (which `fn` must consume or leave: what is left is drained).
 */
export async function forEachArchiveEntry(file: string,
  fn: (entry: ArchiveEntry, data: Readable) => Promise<void>): Promise<void> {
  const extract = tar.extract();
  const seen = new Set<string>();
  let count = 0;
  let feeding: Promise<void> | null = null;
  try {
    const { input, decoder } = await decompressor(createReadStream(file), 'auto');
    feeding = decoder ? pipeline(input, decoder, byteCap(LOAD_LIMITS.maxArchiveBytes, `archive ${file} uncompressed`), extract) : pipeline(input, extract);
    feeding.catch(() => {}); // reported through the iteration below
    for await (const e of extract) {
      if (++count > LOAD_LIMITS.maxArchiveEntries) {
        throw loadError(file, null, `more than ${LOAD_LIMITS.maxArchiveEntries} entries`, 'this is not an image archive, or a hostile one');
      }
      const h = e.header;
      const name = normaliseArchiveName(file, h.name);
      const type = h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'symlink' ? 'symlink' : 'other';
      if (type !== 'other') {
        // two entries of one name: which one counts is ambiguous, refuse
        if (seen.has(name)) throw loadError(file, `entry ${name}`, 'appears twice in the archive', 'the archive is hostile or corrupt; nothing was recorded');
        seen.add(name);
      }
      await fn({ name, type, size: h.size ?? 0, linkname: h.linkname ?? null }, e as unknown as Readable);
      e.resume();
    }
    await feeding;
  } catch (e) {
    extract.destroy();
    if (isSandboxError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      throw loadError(file, null, `cannot read the archive: ${code}`, 'check the path and that you may read it');
    }
    throw loadError(file, null, `not a readable tar archive: ${(e as Error).message}`, 'give an archive written by `podman save`, `docker save` or `skopeo copy`');
  }
}

/** Resolves in-archive symlinks (docker save links repeated layers) to a file entry name, or null. */
export function resolveArchiveName(file: string, entries: ReadonlyMap<string, ArchiveEntry>, name: string, what: string): string | null {
  let current = name;
  for (let hops = 0; hops < 8; hops++) {
    const e = entries.get(current);
    if (!e) return null;
    if (e.type === 'file') return current;
    if (e.type !== 'symlink' || !e.linkname) return null;
    const joined = e.linkname.startsWith('/') ? e.linkname : posix.join(posix.dirname(current), e.linkname);
    if (joined.startsWith('../') || joined === '..' || e.linkname.startsWith('/')) {
      throw loadError(file, `${what}: entry ${current}`, `symlink to "${e.linkname}" leaves the archive`, 'the archive is hostile or corrupt; nothing was recorded');
    }
    current = normaliseArchiveName(file, joined, what);
  }
  throw loadError(file, what, `too many symlinks resolving "${name}"`);
}

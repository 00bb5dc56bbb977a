// The first pass over an image archive: every entry's name, size and
// sha256, the first bytes (to sniff compression), and small entries
// (manifests, configs, index.json) kept in memory within a total budget.
// A blob whose name is its digest (blobs/sha256/<hex>) is checked here, so a
// tampered blob rejects the archive before anything is stored or unpacked.
// Must not: store anything (the copy pass does) or parse JSON.
import { createHash } from 'node:crypto';
import { DEFAULT_MAX_TAR_BYTES } from '../store/diff-id.js';
import { forEachArchiveEntry, type ArchiveEntry } from './archive-entries.js';
import { LOAD_LIMITS, loadError } from './load-error.js';

export interface ScannedEntry extends ArchiveEntry {
  /** sha256 of a file entry's data; null for other entries. */
  readonly digest: string | null;
  /** First bytes of a file entry (up to 8). */
  readonly head: Buffer;
  /** The data of a small file entry, or null. */
  readonly data: Buffer | null;
}

export interface ArchiveScan {
  readonly file: string;
  readonly entries: ReadonlyMap<string, ScannedEntry>;
}

const BLOB_NAME = /^blobs\/sha256\/([a-f0-9]{64})$/;

export async function scanArchive(file: string, maxEntryBytes = DEFAULT_MAX_TAR_BYTES): Promise<ArchiveScan> {
  const entries = new Map<string, ScannedEntry>();
  let kept = 0;
  await forEachArchiveEntry(file, async (entry, data) => {
    if (entry.type !== 'file') {
      entries.set(entry.name, { ...entry, digest: null, head: Buffer.alloc(0), data: null });
      return;
    }
    if (entry.size > maxEntryBytes) throw loadError(file, `entry ${entry.name}`, `${entry.size} bytes, more than the ${maxEntryBytes} allowed`);
    const keep = entry.size <= LOAD_LIMITS.maxJsonBytes && kept + entry.size <= LOAD_LIMITS.maxMemoryBytes;
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let head = Buffer.alloc(0);
    for await (const c of data as AsyncIterable<Buffer>) {
      hash.update(c);
      if (head.length < 8) head = Buffer.concat([head, c.subarray(0, 8 - head.length)]);
      if (keep) chunks.push(c);
    }
    const digest = `sha256:${hash.digest('hex')}`;
    const m = BLOB_NAME.exec(entry.name);
    if (m && digest !== `sha256:${m[1]}`) {
      throw loadError(file, `entry ${entry.name}`, `the blob's content does not match its name (its sha256 is ${digest})`,
        'the archive is corrupt or was tampered with; nothing was stored or unpacked');
    }
    if (keep) kept += entry.size;
    entries.set(entry.name, { ...entry, digest, head, data: keep ? Buffer.concat(chunks) : null });
  });
  return { file, entries };
}

// Unpacks one OCI layer (a tar, gzip- or zstd-compressed or plain) into an
// empty directory, treating the archive as hostile. Owns the per-entry
// rules: names (entry-name.ts), the parent walk (safe-path.ts), how each
// entry type is created, replaced, linked, skipped or refused, the limits
// on entries and bytes, and the report.
// Must not: verify the digest (verify-digest.ts runs first, on the blob:
// verify, then unpack), write anything outside `targetDir` (except the
// whiteout sidecar next to it in 'record' mode), follow a symlink while extracting, or
// clean up after a failure: on any error the CALLER removes targetDir with
// removeTree (and never uses a partly unpacked layer).
//
// Ownership: with `chown: true` (only when running as uid 0 inside a user
// namespace with the caller's subuid mapping: the stage runs the unpacker
// there) uid/gid from the archive are applied. Without it everything
// belongs to the caller.
// Modes: the layer lands on the host, as files of the caller's subordinate
// ids (or the caller's own): no file keeps a world-writable mode, whatever
// the archive says, so nobody who reached one could write into a layer other
// images share. setuid/setgid bits stay with an owner map (`sudo` in an image
// run without no_new_privs needs them, as in podman): they raise only to the
// file's subordinate owner, and only someone who can walk the store could
// run them, which the store's directories prevent (store-access.ts); without
// an owner map everything is the caller's and they are stripped. Directories
// keep their modes (a 1777 /tmp, a setgid 2775 directory are what the
// image's own users need). Sticky bits and mtimes are always kept.
//
// Whiteouts: 'record' writes the sidecar only; 'overlay' and 'fuse-overlayfs'
// (the same marks: both overlays read them) turn them into whiteout devices
// and opaque xattrs (overlay-marks.ts) once every entry is in place, so an
// entry of this layer always wins over a whiteout of the same path (a
// whiteout only hides lower layers, OCI image-spec layer.md).
import { closeSync, readFileSync, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, linkSync, lutimesSync, mkdirSync, openSync, readdirSync, realpathSync, symlinkSync, unlinkSync, constants as fsc, writeSync, lstatSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { pipeline, Transform, type Duplex, type Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { isSandboxError, SandboxError } from '../../errors.js';
import { byteCap, decompressor, type LayerCompression } from './decompress.js';
import { normaliseEntryName } from './entry-name.js';
import { layerError, layerRefusal, printableEntryName } from './layer-refusal.js';
import { removeTree } from './remove-tree.js';
import { LayerRoot, lstatOrNull } from './safe-path.js';
import { classifyWhiteout, containerPath, throwIfUnsupported, writeWhiteoutSidecar, type WhiteoutMode } from './whiteouts.js';
import { makeWhiteout, markOpaque } from './overlay-marks.js';

export const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 1_000_000;
/** Tar framing allowed per entry on top of maxBytes (headers, pax and GNU long-name records, padding). */
const FRAMING_PER_ENTRY = 4096;
const FRAMING_SLACK = 16 * 1024 * 1024;

export interface UnpackOptions {
  /** 'auto' (default) sniffs 1f 8b (gzip) and 28 b5 2f fd (zstd), else plain tar. */
  compression?: LayerCompression;
  /** Total uncompressed entry data in bytes (default 8 GiB); exceeding it stops with an error while streaming. */
  maxBytes?: number;
  /** Number of entries (default 1,000,000); exceeding it stops with an error. */
  maxEntries?: number;
  /**
   * 'record' (default): whiteouts go to the report and to `<targetDir>.whiteouts.json`.
   * 'overlay' / 'fuse-overlayfs': to the report and into the layer as char 0/0
   * devices and user.overlay.opaque / user.fuseoverlayfs.opaque xattrs (no sidecar).
   */
  whiteouts?: WhiteoutMode;
  /**
   * `targetDir` is already a path to the directory that nobody can swap
   * (the unpack worker's /proc/self/cwd, which the stage set while it could
   * still reach the directory): used as it is, without realpath, whose walk
   * from / may cross directories the namespace cannot search.
   */
  targetIsResolved?: boolean;
  /**
   * The layer's diff ID ("sha256:<hex>" of the uncompressed tar) as the
   * image config lists it: hashed while unpacking, a mismatch rejects the
   * layer (the store keys shared layers by diff ID: a forged one must not
   * take the place of another image's layer).
   */
  expectDiffId?: string;
  /** Apply uid/gid from the archive (and keep setuid/setgid on directories): only as uid 0 in a user namespace (the caller decides). */
  chown?: boolean;
  /**
   * true (default): the first entry a safety rule refuses rejects the
   * layer (throws). false: refused entries are skipped and listed in
   * report.refused. Limits and I/O errors always throw.
   */
  strict?: boolean;
}

export interface SkippedEntry {
  name: string;
  type: string;
  reason: string;
}

export interface UnpackReport {
  compression: 'gzip' | 'zstd' | 'none';
  /** Entries read from the archive (pax and GNU long-name records not counted). */
  entries: number;
  counts: { file: number; directory: number; symlink: number; hardlink: number; whiteout: number; opaque: number; skipped: number; refused: number };
  /** Bytes written into regular files. */
  bytes: number;
  /** Device nodes, fifos and unsupported entry types, not created. */
  skipped: SkippedEntry[];
  /** Container paths ("/a/b") deleted from lower layers, sorted. */
  whiteouts: string[];
  /** Container paths of opaque directories ("/" = the layer root), sorted. */
  opaqueDirs: string[];
  /** Entries refused by a safety rule (only with strict: false). */
  refused: { name: string; rule: string }[];
  /** The whiteout sidecar written next to targetDir ('record'). */
  whiteoutFile: string | null;
  /** Whiteout devices and opaque marks made in the layer ('overlay', 'fuse-overlayfs'). */
  marks: { whiteouts: number; opaque: number };
}

interface DeferredDir {
  mode: number;
  mtime: Date | undefined;
  uid: number;
  gid: number;
}

const O_NEW_FILE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
const O_DIR = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;

/** Unpacks `source` (an already digest-verified layer blob) into the empty directory `targetDir`. */
export async function unpackLayer(source: Readable, targetDir: string, options: UnpackOptions = {}): Promise<UnpackReport> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const whiteoutMode = options.whiteouts ?? 'record';
  const chown = options.chown ?? false;
  const strict = options.strict ?? true;
  throwIfUnsupported(whiteoutMode);

  const root = options.targetIsResolved ? targetDir : realpathSync(targetDir);
  if (!(options.targetIsResolved ? statSync(root) : lstatSync(root)).isDirectory()) throw layerError(`target ${targetDir} is not a directory`);
  if (readdirSync(root).length > 0) throw layerError(`target directory ${targetDir} is not empty`, 'unpack into a fresh, empty directory');

  const dirs = new Map<string, DeferredDir>();
  const files = new Map<string, { dev: number; ino: number }>();
  const layer = new LayerRoot(root, (rel) => dirs.delete(rel));
  const whiteouts = new Set<string>();
  const opaqueDirs = new Set<string>();
  const report: UnpackReport = {
    compression: 'none',
    entries: 0,
    counts: { file: 0, directory: 0, symlink: 0, hardlink: 0, whiteout: 0, opaque: 0, skipped: 0, refused: 0 },
    bytes: 0,
    skipped: [],
    whiteouts: [],
    opaqueDirs: [],
    refused: [],
    whiteoutFile: null,
    marks: { whiteouts: 0, opaque: 0 },
  };
  let dataBytes = 0; // all entry data, written or drained

  const { kind, input, decoder } = await decompressor(source, options.compression ?? 'auto');
  report.compression = kind;
  const cap = byteCap(maxBytes + FRAMING_PER_ENTRY * (maxEntries + 1) + FRAMING_SLACK, 'uncompressed tar stream');
  // the diff ID is the sha256 of every tar byte, end-of-archive padding included
  const diffHash = options.expectDiffId ? createHash('sha256') : null;
  const hashing = diffHash ? [new Transform({ transform(chunk: Buffer, _enc, cb) { diffHash.update(chunk); cb(null, chunk); } })] : [];
  const stages: (Readable | Duplex)[] = [input, ...(decoder ? [decoder] : []), cap, ...hashing];
  const extract = tar.extract();
  let markStreamed!: () => void;
  const streamed = new Promise<void>((r) => (markStreamed = r)); // every byte went through, or the stream failed (the loop throws then)
  const tarStream = pipeline(stages as [Readable, Duplex], () => markStreamed()) as unknown as Readable;
  tarStream.on('error', (e) => extract.destroy(e));
  tarStream.pipe(extract as unknown as NodeJS.WritableStream);

  const modeOf = (header: tar.Header) => {
    const mode = (header.mode ?? 0o644) & 0o7777;
    return chown ? mode : mode & ~0o6000;
  };
  // files: never world-writable on the host (see the header)
  const fileModeOf = (header: tar.Header) => modeOf(header) & ~0o002;

  /** Counts an entry's data against maxBytes chunk by chunk; `sink` gets each chunk (or nothing: drained). */
  async function consume(entry: AsyncIterable<unknown>, name: string, sink?: (chunk: Buffer) => void): Promise<void> {
    for await (const c of entry) {
      const chunk = c as Buffer;
      dataBytes += chunk.length;
      if (dataBytes > maxBytes) throw layerError(`entry '${printableEntryName(name)}': layer data exceeds maxBytes (${maxBytes} bytes)`);
      sink?.(chunk);
    }
  }

  /** Removes whatever an earlier entry left at `path`, unless both are directories ('keep'). */
  function clearPath(path: string, rel: string, newIsDir: boolean): 'keep' | 'clear' {
    const st = lstatOrNull(path);
    if (st === null) return 'clear';
    if (st.isDirectory()) {
      if (newIsDir) return 'keep';
      layer.forget(rel); // its parent walks are no longer valid
      removeTree(path); // never follows symlinks
      dirs.delete(rel);
      return 'clear';
    }
    unlinkSync(path);
    files.delete(rel);
    return 'clear';
  }

  function writeFile(path: string, header: tar.Header, entry: AsyncIterable<unknown>, name: string): Promise<void> {
    const fd = openSync(path, O_NEW_FILE, 0o600);
    const done = consume(entry, name, (chunk) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      report.bytes += chunk.length;
    });
    return done.then(
      () => {
        try {
          if (chown) ownBy(name, header.uid ?? 0, header.gid ?? 0, () => fchownSync(fd, header.uid ?? 0, header.gid ?? 0));
          fchmodSync(fd, fileModeOf(header)); // after chown, which would clear what it may
          if (header.mtime) futimesSync(fd, header.mtime, header.mtime);
          const st = fstatSync(fd);
          return st;
        } finally {
          closeSync(fd);
        }
      },
      (e: unknown) => {
        closeSync(fd);
        throw e;
      },
    ).then((st) => {
      files.set(relOf(path), { dev: st.dev, ino: st.ino });
    });
  }

  const relOf = (path: string) => path.slice(root.length + 1);

  async function handle(header: tar.Header, entry: AsyncIterable<unknown>): Promise<void> {
    const name = header.name;
    report.entries++;
    if (report.entries > maxEntries) throw layerError(`more than maxEntries (${maxEntries}) entries, at '${printableEntryName(name)}'`);
    const size = header.size ?? 0;
    if (dataBytes + size > maxBytes) throw layerError(`entry '${printableEntryName(name)}' (${size} bytes): layer data exceeds maxBytes (${maxBytes} bytes)`);

    const components = normaliseEntryName(name);
    const rel = components.join('/');
    const type: string = header.type ?? 'unknown'; // tar-stream: null for a typeflag it does not know

    if (components.length === 0) {
      if (type !== 'directory') throw layerRefusal(name, 'a non-directory entry for the layer root');
      return consume(entry, name); // "./": the root is the caller's directory
    }

    const isZeroCharDevice = type === 'character-device' && (header.devmajor ?? 0) === 0 && (header.devminor ?? 0) === 0;
    const wh = isZeroCharDevice ? { kind: 'whiteout' as const, target: components } : classifyWhiteout(components, name);
    if (wh) {
      // 'record': nothing is created for the marker itself, but its directory is (the stage converts in place).
      if (wh.kind === 'whiteout') {
        if (wh.target.length > 1) layer.prepareParents(wh.target, name);
        whiteouts.add(containerPath(wh.target));
        report.counts.whiteout++;
      } else {
        if (wh.dir.length > 0) {
          const dirPath = layer.prepareParents(wh.dir, name);
          const st = lstatOrNull(dirPath);
          if (st === null) {
            mkdirSync(dirPath, 0o755);
            dirs.delete(wh.dir.join('/'));
          } else if (!st.isDirectory()) throw layerRefusal(name, `opaque marker in '${wh.dir.join('/')}', which is not a directory`);
        }
        opaqueDirs.add(containerPath(wh.dir));
        report.counts.opaque++;
      }
      return consume(entry, name);
    }

    switch (type) {
      case 'file':
      case 'contiguous-file': {
        const path = layer.prepareParents(components, name);
        clearPath(path, rel, false);
        await writeFile(path, header, entry, name);
        report.counts.file++;
        return;
      }
      case 'directory': {
        const path = layer.prepareParents(components, name);
        if (clearPath(path, rel, true) === 'clear') mkdirSync(path, 0o700); // final mode at the end
        dirs.set(rel, { mode: modeOf(header), mtime: header.mtime, uid: header.uid ?? 0, gid: header.gid ?? 0 });
        report.counts.directory++;
        return consume(entry, name);
      }
      case 'symlink': {
        const target = header.linkname ?? '';
        if (target.includes('\0')) throw layerRefusal(name, 'symlink target contains a NUL byte');
        if (target === '') throw layerRefusal(name, 'empty symlink target');
        const path = layer.prepareParents(components, name);
        clearPath(path, rel, false);
        symlinkSync(target, path); // the target is only text: resolved inside the container at run time
        if (chown) ownBy(name, header.uid ?? 0, header.gid ?? 0, () => lchownSync(path, header.uid ?? 0, header.gid ?? 0));
        if (header.mtime) lutimesSync(path, header.mtime, header.mtime);
        report.counts.symlink++;
        return consume(entry, name);
      }
      case 'link': {
        const targetComponents = normaliseEntryName(header.linkname ?? '', name, 'hardlink target');
        const targetRel = targetComponents.join('/');
        if (targetComponents.length === 0) throw layerRefusal(name, 'hardlink to the layer root');
        if (targetRel === rel) throw layerRefusal(name, 'hardlink to itself');
        const known = files.get(targetRel);
        if (!known) throw layerRefusal(name, `hardlink target '${printableEntryName(targetRel)}' is not a regular file extracted earlier in this layer`);
        const targetPath = layer.checkParents(targetComponents, name, 'hardlink target parent');
        const st = lstatOrNull(targetPath);
        if (!st || !st.isFile() || st.ino !== known.ino || st.dev !== known.dev) {
          throw layerRefusal(name, `hardlink target '${printableEntryName(targetRel)}' is no longer the regular file extracted earlier in this layer`);
        }
        const path = layer.prepareParents(components, name);
        clearPath(path, rel, false);
        linkSync(targetPath, path); // link(2) never follows a symlink in the old path
        files.set(rel, known);
        report.counts.hardlink++;
        return consume(entry, name);
      }
      case 'character-device':
      case 'block-device':
        report.skipped.push({ name, type, reason: `device node ${header.devmajor ?? 0}:${header.devminor ?? 0} not created (layers carry no devices)` });
        report.counts.skipped++;
        return consume(entry, name);
      case 'fifo':
        report.skipped.push({ name, type, reason: 'fifo not created (Node has no mkfifo)' });
        report.counts.skipped++;
        return consume(entry, name);
      default:
        report.skipped.push({ name, type, reason: 'unsupported entry type' });
        report.counts.skipped++;
        return consume(entry, name);
    }
  }

  try {
    for await (const entry of extract) {
      try {
        await handle(entry.header, entry);
      } catch (err) {
        const e = isSandboxError(err) ? err : layerError(`entry '${printableEntryName(entry.header.name)}': ${(err as Error).message}`);
        if (strict || !isRefusal(e)) throw e;
        report.refused.push({ name: entry.header.name, rule: (e as SandboxError).message });
        report.counts.refused++;
        await consume(entry, entry.header.name);
      }
    }
  } catch (e) {
    for (const s of [source, input, decoder, cap]) s?.destroy();
    extract.destroy();
    if (isSandboxError(e)) throw e;
    throw layerError(`cannot unpack: ${(e as Error).message}`, 'the archive is truncated or not a tar (or the target file system failed); remove the target directory (removeTree)');
  }

  if (diffHash) {
    // bytes after the end-of-archive blocks count too: drain them through the hash
    tarStream.unpipe(extract as unknown as NodeJS.WritableStream);
    tarStream.resume();
    await streamed;
    const actual = `sha256:${diffHash.digest('hex')}`;
    if (actual !== options.expectDiffId) {
      throw layerError(`diff ID mismatch: the image says ${options.expectDiffId}, the layer's tar is ${actual}`,
        'the image config does not describe this layer (corrupt or forged image): nothing of it may be used; remove the target directory');
    }
  }
  report.whiteouts = [...whiteouts].sort();
  report.opaqueDirs = [...opaqueDirs].sort();
  // marks before directory modes: a 0555 directory would refuse the device, and it changes mtimes
  if (whiteoutMode !== 'record') report.marks = applyOverlayMarks(layer, report.whiteouts, report.opaqueDirs);
  applyDirectories(layer, dirs, chown);
  if (whiteoutMode === 'record') report.whiteoutFile = writeWhiteoutSidecar(root, report.whiteouts, report.opaqueDirs);
  return report;
}

/** Refusals (rule violations) can be skipped with strict: false; limits and I/O errors cannot. */
function isRefusal(e: unknown): boolean {
  return isSandboxError(e) && e.message.startsWith('layer entry ');
}

/**
 * Whiteout devices and opaque marks, after every entry: a path an entry of
 * this layer holds keeps that entry (no device), a whiteout or opaque
 * directory whose parent a later entry replaced (by a symlink, a file) is
 * moot and skipped. The parent walk is done again: nothing is followed.
 */
function applyOverlayMarks(layer: LayerRoot, whiteouts: readonly string[], opaqueDirs: readonly string[]): { whiteouts: number; opaque: number } {
  const marks = { whiteouts: 0, opaque: 0 };
  const componentsOf = (p: string) => p.split('/').filter(Boolean);
  for (const p of whiteouts) {
    let path: string;
    try {
      path = layer.checkParents(componentsOf(p), p, 'whiteout parent');
    } catch {
      continue;
    }
    if (lstatOrNull(path) !== null) continue;
    makeWhiteout(path);
    marks.whiteouts++;
  }
  for (const p of opaqueDirs) {
    const c = componentsOf(p);
    let path: string;
    try {
      // "<root>/.": the directory itself even when the root is a link like /proc/self/cwd
      path = c.length === 0 ? `${layer.root}/.` : layer.checkParents(c, p, 'opaque directory parent');
    } catch {
      continue;
    }
    const st = lstatOrNull(path);
    if (!st || !st.isDirectory()) continue;
    markOpaque(path);
    marks.opaque++;
  }
  return marks;
}

/** "0-65535" (adjacent ranges merged, as the caller's own id next to its subordinate range). */
function joinRanges(ranges: [number, number][]): string {
  const merged: [number, number][] = [];
  for (const [lo, hi] of [...ranges].sort((x, y) => x[0] - y[0])) {
    const last = merged[merged.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged.map(([lo, hi]) => `${lo}-${hi}`).join(', ');
}

/** "0-65535" for the inside ids of /proc/self/{uid,gid}_map (the user namespace the unpack runs in). */
function insideRanges(file: string): { text: string; has: (id: number) => boolean } {
  let lines: number[][] = [];
  try {
    lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number)).filter((l) => l.length === 3);
  } catch {
    /* no map to name */
  }
  return {
    text: lines.length ? joinRanges(lines.map(([inside, , count]) => [inside!, inside! + count! - 1] as [number, number])) : 'unknown',
    has: (id) => lines.some(([inside, , count]) => id >= inside! && id < inside! + count!),
  };
}

/** Runs a chown of entry `name`; an owner the user namespace does not map (EINVAL) is named with the mapped range. */
function ownBy(name: string, uid: number, gid: number, chown: () => void): void {
  try {
    chown();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
    const uids = insideRanges('/proc/self/uid_map');
    const gids = insideRanges('/proc/self/gid_map');
    const out = [...(uids.has(uid) ? [] : [`uid ${uid} is outside the mapped uids ${uids.text}`]),
      ...(gids.has(gid) ? [] : [`gid ${gid} is outside the mapped gids ${gids.text}`])];
    throw layerError(`entry '${printableEntryName(name)}': owner ${uid}:${gid} cannot be set: ${out.length ? out.join('; ') : 'the user namespace refused it (EINVAL)'}`,
      'image layers are unpacked with your subordinate ids (/etc/subuid, /etc/subgid: inside 0 is you or the first id of your range); '
      + 'give your user a larger range (usermod --add-subuids/--add-subgids) or rebuild the image with owners inside it');
  }
}

/**
 * Directory modes, owners and mtimes, applied last (creating entries inside
 * would change the mtime; a 0555 directory would refuse them), deepest
 * first, each through an O_NOFOLLOW|O_DIRECTORY descriptor after the parent
 * walk: a directory an entry later replaced is skipped.
 */
function applyDirectories(layer: LayerRoot, dirs: Map<string, DeferredDir>, chown: boolean): void {
  const order = [...dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
  for (const rel of order) {
    const d = dirs.get(rel)!;
    const components = rel.split('/');
    let fd: number;
    try {
      fd = openSync(layer.checkParents(components, rel, 'parent'), O_DIR);
    } catch {
      continue; // replaced by a later entry: nothing to apply
    }
    try {
      if (chown) ownBy(rel, d.uid, d.gid, () => fchownSync(fd, d.uid, d.gid));
      fchmodSync(fd, d.mode);
      if (d.mtime) futimesSync(fd, d.mtime, d.mtime);
    } finally {
      closeSync(fd);
    }
  }
}

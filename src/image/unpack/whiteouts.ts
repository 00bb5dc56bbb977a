// OCI whiteouts: recognises `.wh.NAME` (NAME from lower layers is deleted)
// and `.wh..wh..opq` (the directory holding it is opaque: lower layers'
// contents of it are hidden), and records them in a deterministic sidecar
// file next to the layer directory. Conversion to what an overlay
// understands is overlay-marks.ts's (unpack-layer.ts applies it); the facts:
//
// - kernel overlayfs (Documentation/filesystems/overlayfs.rst, "whiteouts
//   and opaque directories", "Nesting overlayfs mounts", "User xattr"):
//   a whiteout is a character device with device number 0/0, or a
//   zero-size regular file with the xattr "trusted.overlay.whiteout" whose
//   parent directory has "trusted.overlay.opaque" = "x"; an opaque
//   directory has "trusted.overlay.opaque" = "y". With the `userxattr`
//   mount option (unprivileged mounts in a user namespace) the namespace
//   is "user.overlay." instead of "trusted.overlay.". mknod of 0/0 needs
//   no capability since Linux 5.8 (fs/namei.c vfs_mknod: `!is_whiteout &&
//   !capable(CAP_MKNOD)`), xattrs need setxattr.
// - fuse-overlayfs (containers/fuse-overlayfs main.c): also treats a char
//   0/0 device as a whiteout; when it cannot mknod (probes mknodat 0/0 in
//   the workdir, EPERM, or FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT is set) it
//   uses `.wh.NAME` files in the layer itself; opaque is `.wh..wh..opq` or
//   one of the xattrs user.fuseoverlayfs.opaque, user.overlay.opaque,
//   trusted.overlay.opaque.
//
// Must not: create whiteout files or devices (overlay-marks.ts), or delete anything (a
// whiteout never applies to entries of its own layer, OCI image-spec layer.md).
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { layerRefusal } from './layer-refusal.js';

export type WhiteoutMode = 'overlay' | 'fuse-overlayfs' | 'record';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export type WhiteoutEntry =
  | { kind: 'whiteout'; target: string[] } // components of the deleted path
  | { kind: 'opaque'; dir: string[] }; // components of the opaque directory ([] = layer root)

/** Classifies normalised components; null when the entry is no whiteout. */
export function classifyWhiteout(components: readonly string[], entryName: string): WhiteoutEntry | null {
  const base = components[components.length - 1];
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return null;
  const parent = components.slice(0, -1);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir: parent };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') throw layerRefusal(entryName, `whiteout of an invalid name '${name}'`);
  return { kind: 'whiteout', target: [...parent, name] };
}

/** The container path of `components`: "/a/b", the layer root is "/". */
export function containerPath(components: readonly string[]): string {
  return '/' + components.join('/');
}

/** Every mode is implemented ('overlay' and 'fuse-overlayfs' make the same marks); kept so callers fail early on a bad value. */
export function throwIfUnsupported(mode: WhiteoutMode): void {
  if (mode === 'record' || mode === 'overlay' || mode === 'fuse-overlayfs') return;
  throw layerRefusal('(options)', `whiteouts: unknown mode '${String(mode)}' (expected 'record', 'overlay' or 'fuse-overlayfs')`);
}

/** `<parent of targetDir>/<basename of targetDir>.whiteouts.json` */
export function whiteoutSidecarPath(targetDir: string): string {
  return join(dirname(targetDir), `${basename(targetDir)}.whiteouts.json`);
}

export interface WhiteoutRecord {
  version: 1;
  /** Container paths (layer-relative, "/"-rooted) hidden from lower layers. */
  whiteouts: string[];
  /** Container paths of directories whose lower-layer contents are hidden. */
  opaqueDirs: string[];
}

/** Writes the sidecar atomically (temporary file, then rename); sorted, so the same layer always gives the same bytes. */
export function writeWhiteoutSidecar(targetDir: string, whiteouts: Iterable<string>, opaqueDirs: Iterable<string>): string {
  const record: WhiteoutRecord = {
    version: 1,
    whiteouts: [...new Set(whiteouts)].sort(),
    opaqueDirs: [...new Set(opaqueDirs)].sort(),
  };
  const path = whiteoutSidecarPath(targetDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, path);
  return path;
}

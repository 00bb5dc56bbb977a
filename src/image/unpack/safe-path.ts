// The component walk that stands in for openat2(RESOLVE_IN_ROOT), which
// Node does not have: before an entry is written, every existing parent
// component below the layer root is lstat'ed and must be a real directory
// (never a symlink, never a file); missing ones are created as plain
// directories, one component at a time, with mkdir (which never follows a
// symlink in its last component).
// Must not: follow a symlink, or accept a path that leaves the root. It
// guards against the archive, not against another process writing into
// the target directory at the same time (the caller owns the directory).
import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { layerRefusal } from './layer-refusal.js';

/** lstat, or null for ENOENT (without throwing: an exception per new entry is measurable). */
function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

export const IMPLICIT_DIR_MODE = 0o755;

export class LayerRoot {
  /**
   * Parents already seen to be real directories in this unpack: skips the
   * lstat of every component for every entry (~5 per entry). Only this
   * unpack writes into the root (see above), and an entry can replace a
   * directory only through `forget` (clearPath), so a cached answer cannot
   * go stale.
   */
  private readonly knownDirs = new Set<string>();

  /** `root` must already be a canonical path (realpath) to a real directory. */
  constructor(readonly root: string, private readonly onImplicitDir: (rel: string) => void = () => {}) {}

  /** Call before removing or replacing whatever is at `rel`: it and everything below are looked at again. */
  forget(rel: string): void {
    const below = `${rel}/`;
    for (const d of this.knownDirs) if (d === rel || d.startsWith(below)) this.knownDirs.delete(d);
  }

  /** The absolute path of `components` (already normalised) below the root. */
  pathOf(components: readonly string[]): string {
    return join(this.root, ...components);
  }

  /**
   * Makes sure every parent of `components` is a real directory, creating
   * missing ones (mode 0755); refuses the entry when a parent is a symlink
   * or not a directory. Returns the entry's absolute path.
   */
  prepareParents(components: readonly string[], entryName: string): string {
    return this.walk(components, entryName, true, 'parent');
  }

  /** Like prepareParents, but creates nothing: a missing parent refuses too. */
  checkParents(components: readonly string[], entryName: string, what: string): string {
    return this.walk(components, entryName, false, what);
  }

  private walk(components: readonly string[], entryName: string, create: boolean, what: string): string {
    let path = this.root;
    for (let i = 0; i < components.length - 1; i++) {
      path = join(path, components[i]!);
      const rel = components.slice(0, i + 1).join('/');
      if (this.knownDirs.has(rel)) continue;
      const st = lstatOrNull(path);
      if (st === null) {
        if (!create) throw layerRefusal(entryName, `${what} '${rel}' does not exist`);
        mkdirSync(path, IMPLICIT_DIR_MODE); // EEXIST, never a follow, if something appeared meanwhile
        chmodSync(path, IMPLICIT_DIR_MODE); // just created as a directory by us: umask-independent mode
        this.onImplicitDir(rel);
        this.knownDirs.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) throw layerRefusal(entryName, `${what} '${rel}' is a symlink (extraction never writes through a symlink)`);
      if (!st.isDirectory()) throw layerRefusal(entryName, `${what} '${rel}' is not a directory`);
      this.knownDirs.add(rel);
    }
    return join(path, components[components.length - 1] ?? '');
  }
}

export { lstatOrNull };

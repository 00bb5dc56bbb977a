// Reads a small /etc file (passwd, group) of an image from its unpacked
// layers, as the overlay would show it: the topmost layer that has the path
// decides; a whiteout there hides it. Every component is lstat'ed and a
// symlink ends the search, so image content cannot make us read a host file.
// Must not: follow a symlink, or read more than MAX_BYTES.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

const MAX_BYTES = 1 << 20;

/** 'file', 'hidden' (a whiteout or something else is there), or 'absent' in this layer. */
function lookup(layer: string, parts: readonly string[]): 'file' | 'hidden' | 'absent' {
  let path = layer;
  for (let i = 0; i < parts.length; i++) {
    path = join(path, parts[i]!);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return 'absent';
    }
    const last = i === parts.length - 1;
    if (last) return st.isFile() ? 'file' : 'hidden';
    if (!st.isDirectory()) return 'hidden';
  }
  return 'absent';
}

/** The text of `path` ("/etc/passwd") in the image, or null. */
export function readImageFile(layers: readonly string[], path: string): string | null {
  return readImageFileNoted(layers, path).text;
}

/** As readImageFile, with a note when what was read is not all of it (cut at MAX_BYTES, or unreadable). */
export function readImageFileNoted(layers: readonly string[], path: string): { text: string | null; note?: string } {
  const parts = path.split('/').filter(Boolean);
  for (let i = layers.length - 1; i >= 0; i--) {
    const found = lookup(layers[i]!, parts);
    if (found === 'absent') continue;
    if (found === 'hidden') return { text: null };
    let fd: number;
    try {
      fd = openSync(join(layers[i]!, ...parts), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      // e.g. 0600 and owned by an id inside
      return { text: null, note: `the image's ${path} could not be read (${(e as NodeJS.ErrnoException).code ?? e})` };
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return { text: null };
      const cap = Math.min(st.size, MAX_BYTES);
      const buf = Buffer.allocUnsafe(cap);
      let n = 0;
      for (let r; n < cap && (r = readSync(fd, buf, n, cap - n, null)) > 0;) n += r;
      const text = buf.subarray(0, n).toString('utf8');
      return st.size > MAX_BYTES
        ? { text, note: `only the first 1 MiB of the image's ${path} (${st.size} bytes) was read: entries after it are not seen` }
        : { text };
    } finally {
      closeSync(fd);
    }
  }
  return { text: null };
}

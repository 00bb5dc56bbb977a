// Normalises the name of one layer archive entry (or a hardlink target) to
// a relative path made only of plain components, or refuses it.
// Owns the rules: no NUL, not empty, not absolute, no '..' component.
// Must not: touch the file system (the component walk is safe-path.ts).
import { layerRefusal } from './layer-refusal.js';

/**
 * Returns the entry's path components below the layer root: a leading "./"
 * (any number of them), empty components ("a//b") and "." components are
 * dropped; [] means the layer root itself (an entry named "./").
 * `what` names the field in refusals ("hardlink target", ...).
 */
export function normaliseEntryName(raw: string, entryName: string = raw, what = 'name'): string[] {
  if (raw.includes('\0')) throw layerRefusal(entryName, `${what} contains a NUL byte`);
  if (raw.length === 0) throw layerRefusal(entryName, `empty ${what}`);
  if (raw.startsWith('/')) throw layerRefusal(entryName, `absolute ${what}`);
  const components: string[] = [];
  for (const c of raw.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw layerRefusal(entryName, `parent directory traversal in ${what}`);
    components.push(c);
  }
  return components;
}

// Parses /etc/subuid and /etc/subgid ("name-or-id:start:count" lines), the
// ranges newuidmap/newgidmap allow a user to map.
import { readFileSync } from 'node:fs';

export interface SubIdRange {
  readonly start: number;
  readonly count: number;
}

/** All ranges of a user, matched by name or numeric id, in file order. */
export function parseSubIds(text: string, user: { name: string | null; id: number }): SubIdRange[] {
  const ranges: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [owner, start, count] = line.split(':');
    if (owner === undefined || start === undefined || count === undefined) continue;
    if (owner !== user.name && owner !== String(user.id)) continue;
    const s = Number(start), c = Number(count);
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(c) || s < 0 || c <= 0 || s + c > 0xffffffff) continue;
    ranges.push({ start: s, count: c });
  }
  return ranges;
}

/** Reads a subid file; a missing file means no ranges. */
export function readSubIds(path: string, user: { name: string | null; id: number }): SubIdRange[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseSubIds(text, user);
}

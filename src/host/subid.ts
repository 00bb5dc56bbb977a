// Parses /etc/subuid and /etc/subgid ("name-or-id:start:count" lines), the
// ranges newuidmap/newgidmap allow a user to map.
import { readFileSync } from 'node:fs';

export interface SubIdRange {
  readonly start: number;
  readonly count: number;
}

export interface SubIdEntry extends SubIdRange {
  /** The name or numeric id the line starts with. */
  readonly owner: string;
}

/** Every well-formed line of a subid file, of every owner, in file order. */
export function parseSubIdLines(text: string): SubIdEntry[] {
  const entries: SubIdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [owner, start, count] = line.split(':');
    if (owner === undefined || start === undefined || count === undefined) continue;
    const s = Number(start), c = Number(count);
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(c) || s < 0 || c <= 0 || s + c > 0xffffffff) continue;
    entries.push({ owner, start: s, count: c });
  }
  return entries;
}

/** All ranges of a user, matched by name or numeric id, in file order. */
export function parseSubIds(text: string, user: { name: string | null; id: number }): SubIdRange[] {
  return parseSubIdLines(text)
    .filter((e) => e.owner === user.name || e.owner === String(user.id))
    .map(({ start, count }) => ({ start, count }));
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

// Doctor check 2: the caller's /etc/subuid and /etc/subgid ranges (parsed by
// host/subid.ts), with a usermod line that adds a free 65536-id block.
import { SUBGID_FILE, SUBUID_FILE } from '../../host/probe-host.js';
import { parseSubIdLines, readSubIds, type SubIdRange } from '../../host/subid.js';
import { asAdmin, check, isRoot, quoteShell, readTrimmed, type Caller, type DoctorCheck } from '../doctor-check.js';

export const FULL_RANGE = 65536;

/** Every range of every owner in a subid file (for picking a free block). */
export function parseAllSubIdRanges(text: string): SubIdRange[] {
  return parseSubIdLines(text).map(({ start, count }) => ({ start, count }));
}

/** The first 65536-id block from 100000 on that overlaps none of the taken ranges. */
export function pickFreeSubIdRange(taken: readonly SubIdRange[], count = FULL_RANGE): SubIdRange {
  let start = 100000;
  for (;;) {
    const clash = taken.find((r) => r.start < start + count && start < r.start + r.count);
    if (!clash) return { start, count };
    start = Math.ceil((clash.start + clash.count) / FULL_RANGE) * FULL_RANGE;
  }
}

export function formatRange(r: SubIdRange): string {
  return `${r.start}-${r.start + r.count - 1} (${r.count} ids)`;
}

const usermodRange = (r: SubIdRange) => `${r.start}-${r.start + r.count - 1}`;

export interface SubIdFacts {
  caller: Caller;
  /** All of the caller's ranges in file order; the sandbox uses the first. */
  subuid: readonly SubIdRange[];
  subgid: readonly SubIdRange[];
  /** A free block to suggest (see pickFreeSubIdRange). */
  suggested: SubIdRange;
}

export function evaluateSubIds(f: SubIdFacts): DoctorCheck {
  const id = 'subid';
  const title = 'subordinate id ranges';
  const root = isRoot(f.caller);
  const who = f.caller.name ?? String(f.caller.uid);
  const describe = (kind: string, rs: readonly SubIdRange[]) =>
    `${kind} ${rs.length ? rs.map(formatRange).join(', ') : 'none'}`;
  const ranges = `${describe('subuid', f.subuid)}; ${describe('subgid', f.subgid)}`;
  const add = (flags: string) =>
    f.caller.name !== null
      ? asAdmin(`usermod ${flags} ${quoteShell(f.caller.name)}`, root)
      : null;
  const suggested = usermodRange(f.suggested);

  const missing = [f.subuid.length ? null : 'subuid', f.subgid.length ? null : 'subgid'].filter((x): x is string => x !== null);
  if (missing.length > 0) {
    const flags = missing.map((k) => `--add-${k}s ${suggested}`).join(' ');
    const fix = add(flags) ?? missing
      .map((k) => `echo '${f.caller.uid}:${f.suggested.start}:${f.suggested.count}' | ${asAdmin(`tee -a /etc/${k}`, root)}`)
      .join('\n');
    const consequence = root
      ? 'without a range for root the sandbox maps the workload to nobody (65534)'
      : 'without a range the sandbox uses a single-id mapping: only one uid exists inside, and the caller\'s supplementary groups stay attached (setgroups is denied)';
    return check(id, title, 'warn', `no ${missing.join(' or ')} range for ${who} (${ranges}): ${consequence}`, fix);
  }

  const small = ([['subuid', f.subuid[0]], ['subgid', f.subgid[0]]] as const)
    .filter(([, r]) => r !== undefined && r.count < FULL_RANGE) as [string, SubIdRange][];
  if (small.length > 0) {
    const flags = small.map(([k, r]) => `--del-${k}s ${usermodRange(r)} --add-${k}s ${suggested}`).join(' ');
    const fix = add(flags) ?? `# edit /etc/subuid and /etc/subgid: give ${who} the range ${f.suggested.start}:${f.suggested.count} as its first line`;
    const what = small.map(([k, r]) => `${k} range ${usermodRange(r)} has ${r.count} ids`).join(', ');
    return check(id, title, 'warn',
      `${what}, fewer than ${FULL_RANGE}: ids above ${Math.min(...small.map(([, r]) => r.count)) - 1} inside the sandbox cannot be mapped (${ranges})`, fix);
  }
  return check(id, title, 'ok', `${who}: ${ranges}`);
}

function readTakenRanges(): SubIdRange[] {
  const taken: SubIdRange[] = [];
  for (const file of [SUBUID_FILE, SUBGID_FILE]) {
    const text = readTrimmed(file);
    if (text !== null) taken.push(...parseAllSubIdRanges(text));
  }
  return taken;
}

/** The caller's /etc/subuid and /etc/subgid ranges. */
export function readCallerSubIds(caller: Caller): { subuid: SubIdRange[]; subgid: SubIdRange[] } {
  const who = { name: caller.name, id: caller.uid };
  return { subuid: readSubIds(SUBUID_FILE, who), subgid: readSubIds(SUBGID_FILE, who) };
}

export function checkSubIds(caller: Caller): DoctorCheck {
  return evaluateSubIds({ caller, ...readCallerSubIds(caller), suggested: pickFreeSubIdRange(readTakenRanges()) });
}

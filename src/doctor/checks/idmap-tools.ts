// Doctor check 3: newuidmap/newgidmap are installed and setuid-root or carry
// cap_setuid/cap_setgid (read with getcap).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { findTool } from '../../host/probe-host.js';
import { asAdmin, check, isRoot, type Caller, type DoctorCheck } from '../doctor-check.js';
import { readCallerSubIds } from './subids.js';

export interface IdMapToolFacts {
  name: 'newuidmap' | 'newgidmap';
  /** Absolute path, or null when not installed. */
  path: string | null;
  /** st.mode and st.uid of the file. */
  mode?: number;
  ownerUid?: number;
  /** File capabilities as getcap prints them ("cap_setuid=ep"); '' = none; null = unknown (no getcap). */
  caps?: string | null;
}

/** The capability part of `getcap PATH` output: "" when the file has none. */
export function parseGetcapOutput(output: string): string {
  const line = output.split('\n').find((l) => l.trim() !== '');
  if (!line) return '';
  // "/usr/bin/newuidmap cap_setuid=ep" (libcap >= 2.41) or "/usr/bin/newuidmap = cap_setuid+ep" (older)
  const m = /^\S+\s+(?:=\s+)?(.*)$/.exec(line.trim());
  return m?.[1]?.trim() ?? '';
}

/** `hasRanges`: the caller has subuid and subgid ranges (without, runs use a single-id map and need no helper). */
export function evaluateIdMapTools(tools: readonly IdMapToolFacts[], caller: Caller, hasRanges = true): DoctorCheck {
  const id = 'idmap-tools';
  const title = 'newuidmap/newgidmap';
  const root = isRoot(caller);
  if (root) {
    const where = tools.map((t) => `${t.name} ${t.path ?? 'not installed'}`).join(', ');
    return check(id, title, 'info', `not needed for root, which writes the id maps itself (${where})`);
  }
  const missing = tools.filter((t) => t.path === null);
  if (missing.length > 0) {
    const what = `${missing.map((t) => t.name).join(' and ')} not found in /usr/bin, /usr/sbin, /bin or /sbin`;
    return check(id, title, hasRanges ? 'fail' : 'warn', hasRanges ? what : `${what}; sandboxes use a single-id mapping until both are installed and the caller has a range`,
      `${asAdmin('apt-get install uidmap', root)}\n# fedora/rhel: ${asAdmin('dnf install shadow-utils', root)}`);
  }
  const broken: string[] = [];
  const unknown: string[] = [];
  const good: string[] = [];
  for (const t of tools) {
    const setuidRoot = t.mode !== undefined && (t.mode & 0o4000) !== 0 && t.ownerUid === 0;
    const needed = t.name === 'newuidmap' ? 'cap_setuid' : 'cap_setgid';
    if (setuidRoot) good.push(`${t.path} is setuid-root`);
    else if (t.caps === null || t.caps === undefined) unknown.push(`${t.path} is not setuid-root and getcap is missing to read its file capabilities`);
    else if (t.caps.includes(needed)) good.push(`${t.path} has ${t.caps}`);
    else broken.push(`${t.path} is neither setuid-root nor has ${needed} (${t.caps || 'no file capabilities'})`);
  }
  const paths = tools.map((t) => t.path as string).join(' ');
  if (broken.length > 0) {
    return check(id, title, 'fail', broken.join('; '), asAdmin(`chmod u+s ${paths}`, root));
  }
  if (unknown.length > 0) {
    return check(id, title, 'warn', `could not tell whether they work: ${unknown.join('; ')}`,
      `${asAdmin('apt-get install libcap2-bin', root)}  # provides getcap, then run sandbox doctor again\n# or make them setuid-root: ${asAdmin(`chmod u+s ${paths}`, root)}`);
  }
  return check(id, title, 'ok', good.join(', '));
}

function readGetcap(getcap: string | null, path: string): string | null {
  if (getcap === null) return null;
  try {
    return parseGetcapOutput(execFileSync(getcap, [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }));
  } catch {
    return null;
  }
}

export function checkIdMapTools(caller: Caller): DoctorCheck {
  const getcap = findTool('getcap');
  const tools = (['newuidmap', 'newgidmap'] as const).map((name): IdMapToolFacts => {
    const path = findTool(name);
    if (path === null) return { name, path };
    const st = statSync(path);
    const setuidRoot = (st.mode & 0o4000) !== 0 && st.uid === 0;
    return { name, path, mode: st.mode, ownerUid: st.uid, caps: setuidRoot ? '' : readGetcap(getcap, path) };
  });
  const { subuid, subgid } = readCallerSubIds(caller);
  return evaluateIdMapTools(tools, caller, subuid.length > 0 && subgid.length > 0);
}

// This process's resource limits as the kernel shows them (/proc/self/limits):
// Node has no getrlimit, and a run cannot raise a hard limit it inherited.
import { readFileSync } from 'node:fs';

/** The hard limit of a resource by its /proc name ("Max stack size"): a number, "unlimited", or null when unknown. */
export function hardLimit(name: string, text?: string): number | 'unlimited' | null {
  let limits = text;
  if (limits === undefined) {
    try {
      limits = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const line = limits.split('\n').find((l) => l.startsWith(`${name} `));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  if (hard === undefined) return null;
  if (hard === 'unlimited') return 'unlimited';
  return /^\d+$/.test(hard) ? Number(hard) : null;
}

// Capabilities of a run: names as podman takes them (with or without CAP_,
// any case, ALL), podman's default set, and podman's rules for merging
// --cap-add and --cap-drop. Pure. A capability here is held inside the run's
// own user namespace only: it acts on what that namespace owns.

import { SandboxError } from '../errors.js';

/** <linux/capability.h>: every capability the kernel knows, by bit. Bits the running kernel lacks are dropped by it. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** podman's default set (containers.conf default_capabilities): what image scripts need as root. In bit order. */
export const PODMAN_DEFAULT_CAPS: readonly Capability[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_SETFCAP',
];

export const ALL = 'ALL';

/** "net_admin", "NET_ADMIN", "CAP_NET_ADMIN" → "CAP_NET_ADMIN"; ALL stays ALL. */
export function normalizeCapability(name: string, where: string): Capability | typeof ALL {
  const upper = name.trim().toUpperCase();
  if (upper === ALL) return ALL;
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(CAPABILITIES as readonly string[]).includes(full)) {
    throw new SandboxError('usage', `unknown capability "${name}" (${where})`,
      'give a name such as NET_ADMIN or CAP_NET_ADMIN (see capabilities(7)), or ALL');
  }
  return full as Capability;
}

/**
 * podman's merge: dropping ALL keeps only what is added; adding ALL holds
 * every capability but the dropped ones; otherwise base + added - dropped. A
 * capability both added and dropped is a contradiction, refused.
 */
export function mergeCapabilities(base: readonly Capability[], add: readonly string[], drop: readonly string[], where: { add: string; drop: string }): Capability[] {
  const adds = add.map((c) => normalizeCapability(c, where.add));
  const drops = drop.map((c) => normalizeCapability(c, where.drop));
  const both = adds.find((c) => drops.includes(c));
  if (both) {
    throw new SandboxError('usage', `capability ${both} is both added (${where.add}) and dropped (${where.drop})`, 'give it in only one of them');
  }
  const named = (list: (Capability | typeof ALL)[]) => list.filter((c): c is Capability => c !== ALL);
  let held: Capability[];
  if (drops.includes(ALL)) held = named(adds);
  else if (adds.includes(ALL)) held = CAPABILITIES.filter((c) => !drops.includes(c));
  else held = [...base.filter((c) => !drops.includes(c)), ...named(adds)];
  return [...new Set(held)].sort((a, b) => CAPABILITIES.indexOf(a) - CAPABILITIES.indexOf(b));
}

/** The kernel's bit mask of a set (capget/capset, PR_CAPBSET_DROP). */
export function capabilityMask(caps: readonly Capability[]): bigint {
  return caps.reduce((mask, c) => mask | (1n << BigInt(CAPABILITIES.indexOf(c))), 0n);
}

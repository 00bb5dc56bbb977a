// `sandbox-oci spec [--rootless]`: a starting config.json, the shape of
// runc's, written from the runtime-spec's documented defaults: `sh` on a
// terminal as root in ./rootfs (read-only), a few capabilities, the
// standard kernel mounts, new namespaces, and the usual /proc paths masked
// or read-only. --rootless adds a user namespace that maps the caller's own
// ids (size 1) and leaves out what an unprivileged caller cannot have (gid=5
// on devpts, device cgroup rules).
import { DEFAULT_PATH } from '../resolve/resolve-run-spec.js';
import { OCI_VERSION } from './features.js';
import type { OciConfig, OciMount } from './oci-config.js';

export interface SpecTemplateOptions {
  /** The caller's ids: a rootless config maps them to root inside. */
  readonly rootless?: { readonly uid: number; readonly gid: number };
}

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function mounts(rootless: boolean): OciMount[] {
  const devpts = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])];
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: devpts },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
}

export function specTemplate(options: SpecTemplateOptions = {}): OciConfig {
  const rootless = options.rootless;
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: [`PATH=${DEFAULT_PATH}`, 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...CAPS], effective: [...CAPS], permitted: [...CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'sandbox',
    mounts: mounts(Boolean(rootless)),
    linux: {
      ...(rootless ? {
        uidMappings: [{ containerID: 0, hostID: rootless.uid, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: rootless.gid, size: 1 }],
      } : {
        resources: { devices: [{ allow: false, access: 'rwm' }] },
      }),
      namespaces: [
        { type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' },
        ...(rootless ? [{ type: 'user' as const }] : []),
      ],
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}

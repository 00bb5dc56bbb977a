// `sandbox-oci features`: the runtime-spec features document (features.md)
// of this runtime, built from the tables config-to-run.ts checks against,
// so it cannot claim more than the translator accepts.
import { CAPABILITIES } from '../resolve/capabilities.js';
import { policySchema } from '../seccomp/policy-schema.js';
import { CREATED_NAMESPACES, HOOK_KINDS, MOUNT_OPTIONS } from './config-to-run.js';

export const OCI_VERSION_MIN = '1.0.0';
export const OCI_VERSION = '1.2.0';

export interface OciFeatures {
  readonly ociVersionMin: string;
  readonly ociVersionMax: string;
  readonly hooks: readonly string[];
  readonly mountOptions: readonly string[];
  readonly linux: {
    readonly namespaces: readonly string[];
    readonly capabilities: readonly string[];
    readonly cgroup: { readonly v1: boolean; readonly v2: boolean; readonly systemd: boolean; readonly systemdUser: boolean; readonly rdma: boolean };
    readonly seccomp: {
      readonly enabled: boolean; readonly actions: readonly string[]; readonly operators: readonly string[];
      readonly archs: readonly string[]; readonly knownFlags: readonly string[]; readonly supportedFlags: readonly string[];
    };
    readonly apparmor: { readonly enabled: boolean };
    readonly selinux: { readonly enabled: boolean };
    readonly intelRdt: { readonly enabled: boolean };
    readonly mountExtensions: { readonly idmap: { readonly enabled: boolean } };
  };
  readonly annotations: Readonly<Record<string, string>>;
}

/** Architectures the seccomp compiler resolves (libseccomp names; resolve-policy.ts maps Node's). */
const SECCOMP_ARCHS = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64',
];

export function ociFeatures(version = '0.1.0'): OciFeatures {
  const p = policySchema.properties;
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    // config-to-run keeps hooks for the runner (OciExtras.hooks)
    hooks: [...HOOK_KINDS],
    mountOptions: [...MOUNT_OPTIONS],
    linux: {
      namespaces: [...CREATED_NAMESPACES],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: true, rdma: false },
      seccomp: {
        enabled: true,
        // no listener: SCMP_ACT_NOTIFY is refused
        actions: p.defaultAction.enum.filter((a) => a !== 'SCMP_ACT_NOTIFY'),
        operators: [...p.syscalls.items.properties.args.items.properties.op.enum],
        archs: SECCOMP_ARCHS,
        knownFlags: [...p.flags.items.enum],
        supportedFlags: [...p.flags.items.enum],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { 'dev.rootless-sandbox.version': version },
  };
}

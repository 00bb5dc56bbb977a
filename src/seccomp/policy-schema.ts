// JSON Schema of seccomp policy files: the OCI runtime-spec LinuxSeccomp
// object plus Docker's (archMap, includes/excludes, name) and podman's
// (defaultErrno, errno) extensions, so their shipped profiles load unchanged.
// Compiled ahead of time by scripts/gen-validators.mjs.

const action = {
  type: 'string',
  enum: ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
    'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'],
  description: 'What happens on a matching call (SCMP_ACT_KILL kills the thread, as in libseccomp).',
} as const;

const condition = {
  type: 'object',
  additionalProperties: false,
  properties: {
    caps: { type: 'array', items: { type: 'string', description: 'A capability name, e.g. CAP_SYS_ADMIN.' }, description: "Capabilities the workload holds (its bounding set): includes needs all of them, excludes any of them." },
    arches: { type: 'array', items: { type: 'string', description: 'A Go architecture name, e.g. amd64, arm64, 386.' }, description: 'Machine architectures (Go names) the rule is for.' },
    minKernel: { type: 'string', pattern: '^[0-9]+\\.[0-9]+$', description: 'Kernel version "MAJOR.MINOR" (includes: at least this; excludes: at least this).' },
    network: { type: 'boolean', description: 'rootless-sandbox extension: the sandbox has a network (true) or only lo (false).' },
  },
} as const;

const syscallName = { type: 'string', pattern: '^[a-z_][a-z0-9_]*$' } as const;
const scmpArch = { type: 'string', pattern: '^SCMP_ARCH_[A-Z0-9_]+$' } as const;

const errnoName = { type: 'string', pattern: '^E[A-Z0-9]+$', description: 'An errno name, e.g. EPERM.' } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 } as const;
// JSON numbers are doubles: beyond 2^53 they are not exact, so they are refused
const u64 = { type: 'integer', minimum: 0, maximum: 9007199254740991 } as const;

export const policySchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://rootless-sandbox.dev/schemas/seccomp-policy.json',
  title: 'rootless-sandbox seccomp policy (OCI LinuxSeccomp)',
  description: 'System calls a workload may make. The OCI runtime-spec LinuxSeccomp format, with Docker\'s and podman\'s extensions.',
  type: 'object',
  required: ['defaultAction'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', description: 'Editor hint; ignored.' },
    comment: { type: 'string', description: 'Free text; ignored.' },
    defaultAction: { ...action, description: 'Action for calls no rule matches.' },
    defaultErrnoRet: { ...u32, description: 'errno returned by a default SCMP_ACT_ERRNO. Absent: defaultErrno, else EPERM.' },
    defaultErrno: { ...errnoName, description: 'podman: defaultErrnoRet by name.' },
    architectures: {
      type: ['array', 'null'],
      items: { ...scmpArch, description: 'A libseccomp architecture, e.g. SCMP_ARCH_X86_64.' },
      description: 'Architectures the filter covers; calls from any other (e.g. i386 int 0x80 from a 64-bit program) are killed. Absent: archMap, else only the native architecture.',
    },
    archMap: {
      type: ['array', 'null'],
      description: 'Docker: per native architecture, the compat architectures to cover too. Only the entry of this machine\'s architecture is used.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['architecture'],
        properties: {
          architecture: { ...scmpArch, description: 'A native architecture.' },
          subArchitectures: { type: ['array', 'null'], items: { ...scmpArch, description: 'A compat architecture.' }, description: 'Compat architectures covered with it.' },
        },
      },
    },
    flags: {
      type: ['array', 'null'],
      items: { type: 'string', enum: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'], description: 'A seccomp(2) filter flag.' },
      description: 'Flags passed to seccomp(2) when the filter is loaded.',
    },
    listenerPath: { type: 'string', description: 'OCI: socket for SCMP_ACT_NOTIFY (not supported here: a policy using NOTIFY is refused).' },
    listenerMetadata: { type: 'string', description: 'OCI: metadata for the listener (not supported here).' },
    syscalls: {
      type: ['array', 'null'],
      description: 'Rules, in order. Several rules for one call are alternatives; the args of one rule must all match.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['action'],
        properties: {
          names: { type: 'array', items: { ...syscallName, description: 'A system call name.' }, description: 'System calls the rule is for.' },
          name: { ...syscallName, description: 'Old Docker form of names with one entry.' },
          action,
          errnoRet: { ...u32, description: 'errno returned by SCMP_ACT_ERRNO (message for SCMP_ACT_TRACE). Absent: errno, else defaultErrnoRet, else EPERM.' },
          errno: { ...errnoName, description: 'podman: errnoRet by name.' },
          comment: { type: 'string', description: 'Free text; ignored.' },
          args: {
            type: ['array', 'null'],
            description: 'Argument comparisons, all of which must hold. At most one per argument index.',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['index', 'value', 'op'],
              properties: {
                index: { type: 'integer', minimum: 0, maximum: 5, description: 'Argument number, 0-5.' },
                value: { ...u64, description: 'Compared value; for SCMP_CMP_MASKED_EQ, the mask.' },
                valueTwo: { ...u64, description: 'For SCMP_CMP_MASKED_EQ, the value the masked argument must equal.' },
                op: { type: 'string', enum: ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'], description: 'Comparison (64-bit, unsigned).' },
              },
            },
          },
          includes: { ...condition, description: 'The rule applies only when all of these hold.' },
          excludes: { ...condition, description: 'The rule is skipped when any of these holds.' },
        },
      },
    },
  },
} as const;

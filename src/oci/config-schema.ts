// JSON Schema of the part of an OCI runtime-spec config.json (1.0-1.2) that
// sandbox-oci understands. Unknown or ill-typed fields fail validation with
// their JSON pointer. Fields of the spec that we know but cannot honour
// (scheduler, intelRdt, blockIO, ...) are accepted by shape here (`known`)
// and refused by name in config-to-run.ts, so their message says why.
// Compiled ahead of time by scripts/gen-validators.mjs.
// Must not: carry defaults (config-to-run.ts applies the spec's).
import { policySchema } from '../seccomp/policy-schema.js';

const str = { type: 'string' } as const;
const strList = { type: 'array', items: { type: 'string' } } as const;
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 } as const;
const int = { type: 'integer' } as const;
/** rlimits may be 2^64-1 (RLIM_INFINITY), which a double cannot hold exactly: no maximum. */
const u64ish = { type: 'integer', minimum: 0 } as const;
/** A spec field we know and refuse in config-to-run.ts unless it is empty. */
const known = { description: 'Known to the runtime-spec, not supported: refused unless empty.' } as const;
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });

const idMapping = {
  type: 'array',
  items: {
    type: 'object', additionalProperties: false, required: ['containerID', 'hostID', 'size'],
    properties: { containerID: u32, hostID: u32, size: { ...u32, minimum: 1 } },
  },
} as const;

const hookList = {
  type: 'array',
  items: {
    type: 'object', additionalProperties: false, required: ['path'],
    properties: { path: { type: 'string', pattern: '^/' }, args: strList, env: strList, timeout: { type: 'integer', minimum: 1 } },
  },
} as const;

// the seccomp policy schema is already the OCI LinuxSeccomp object (with Docker's extensions)
const { $schema: _s, $id: _i, title: _t, ...seccompSchema } = policySchema;

export const RLIMIT_TYPES = [
  'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_LOCKS', 'RLIMIT_MEMLOCK', 'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE', 'RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_RSS', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME', 'RLIMIT_SIGPENDING', 'RLIMIT_STACK',
] as const;

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;

export const ociConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://rootless-sandbox.dev/schemas/oci-runtime-config.json',
  title: 'OCI runtime-spec config.json (the subset sandbox-oci runs)',
  type: 'object',
  additionalProperties: false,
  required: ['ociVersion'],
  properties: {
    ociVersion: str,
    process: {
      type: 'object', additionalProperties: false, required: ['cwd'],
      properties: {
        terminal: { type: 'boolean' },
        consoleSize: { type: 'object', additionalProperties: false, required: ['height', 'width'], properties: { height: u32, width: u32 } },
        cwd: str,
        env: strList,
        args: strList,
        rlimits: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['type', 'soft', 'hard'],
            properties: { type: { type: 'string', enum: RLIMIT_TYPES }, soft: u64ish, hard: u64ish },
          },
        },
        apparmorProfile: str,
        capabilities: {
          type: 'object', additionalProperties: false,
          properties: { bounding: strList, effective: strList, inheritable: strList, permitted: strList, ambient: strList },
        },
        noNewPrivileges: { type: 'boolean' },
        oomScoreAdj: { type: 'integer', minimum: -1000, maximum: 1000 },
        selinuxLabel: str,
        user: {
          type: 'object', additionalProperties: false, required: ['uid', 'gid'],
          properties: { uid: u32, gid: u32, umask: { type: 'integer', minimum: 0, maximum: 0o7777 }, additionalGids: { type: 'array', items: u32 } },
        },
        scheduler: known,
        ioPriority: known,
        execCPUAffinity: known,
      },
    },
    root: {
      type: 'object', additionalProperties: false, required: ['path'],
      properties: { path: { type: 'string', minLength: 1 }, readonly: { type: 'boolean' } },
    },
    hostname: str,
    domainname: str,
    mounts: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['destination'],
        properties: { destination: str, type: str, source: str, options: strList, uidMappings: known, gidMappings: known },
      },
    },
    hooks: {
      type: 'object', additionalProperties: false,
      properties: {
        prestart: hookList, createRuntime: hookList, createContainer: hookList, startContainer: hookList, poststart: hookList, poststop: hookList,
      },
    },
    annotations: { type: 'object', additionalProperties: str },
    linux: {
      type: 'object', additionalProperties: false,
      properties: {
        namespaces: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['type'],
            properties: { type: { type: 'string', enum: NAMESPACE_TYPES }, path: str },
          },
        },
        uidMappings: idMapping,
        gidMappings: idMapping,
        timeOffsets: known,
        devices: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['type', 'path'],
            properties: { type: { type: 'string', enum: ['c', 'b', 'u', 'p'] }, path: str, major: int, minor: int, fileMode: u32, uid: u32, gid: u32 },
          },
        },
        netDevices: known,
        cgroupsPath: str,
        resources: {
          type: 'object', additionalProperties: false,
          properties: {
            devices: {
              type: 'array',
              items: {
                type: 'object', additionalProperties: false, required: ['allow'],
                properties: {
                  allow: { type: 'boolean' }, type: { type: 'string', enum: ['a', 'c', 'b'] },
                  major: nullable(int), minor: nullable(int), access: { type: 'string', pattern: '^[rwm]*$' },
                },
              },
            },
            memory: {
              type: 'object', additionalProperties: false,
              properties: {
                limit: int, reservation: int, swap: int, kernel: int, kernelTCP: int, swappiness: int,
                disableOOMKiller: { type: 'boolean' }, useHierarchy: { type: 'boolean' }, checkBeforeUpdate: { type: 'boolean' },
              },
            },
            cpu: {
              type: 'object', additionalProperties: false,
              properties: {
                shares: int, quota: int, burst: int, period: int, realtimeRuntime: int, realtimePeriod: int, cpus: str, mems: str, idle: int,
              },
            },
            pids: { type: 'object', additionalProperties: false, required: ['limit'], properties: { limit: int } },
            blockIO: known,
            hugepageLimits: known,
            network: known,
            rdma: known,
            unified: known,
          },
        },
        intelRdt: known,
        memoryPolicy: known,
        sysctl: { type: 'object', additionalProperties: str },
        seccomp: seccompSchema,
        rootfsPropagation: { type: 'string', enum: ['', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable'] },
        maskedPaths: strList,
        readonlyPaths: strList,
        mountLabel: str,
        personality: {
          type: 'object', additionalProperties: false, required: ['domain'],
          properties: { domain: { type: 'string', enum: ['LINUX', 'LINUX32'] }, flags: strList },
        },
      },
    },
    solaris: known,
    windows: known,
    vm: known,
    zos: known,
  },
} as const;

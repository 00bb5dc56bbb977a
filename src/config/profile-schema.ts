// The JSON Schema of profile files (profiles/*.json). Compiled ahead of time
// into src/config/generated/validate-profile.js by scripts/gen-validators.mjs,
// so the CLI never loads ajv's compiler at start-up.
// Must not: carry defaults; "absent" always means "use the built-in default".

const absolutePath = {
  type: 'string',
  pattern: '^/[^\\u0000]{0,4094}$',
  description: 'An absolute path (at most 4095 bytes).',
} as const;

const size = {
  type: 'string',
  pattern: '^[0-9]+[kKmMgG]?$',
  description: 'A size in bytes, or with a k, m or g suffix (powers of 1024), e.g. "64m".',
} as const;

export const profileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://rootless-sandbox.dev/schemas/profile.json',
  title: 'rootless-sandbox profile',
  description:
    'How to run a workload: identity, file system, network and environment. Command-line flags override these fields. An absent field means the built-in default; an empty array or object means "none".',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', description: 'Editor hint; ignored.' },
    description: { type: 'string', description: 'One line shown by `sandbox profile ls`.' },
    user: {
      type: 'object',
      description: 'Workload identity inside the sandbox (-u). Absent: uid 0, gid 0 (root inside the user namespace, never host root).',
      additionalProperties: false,
      required: ['uid', 'gid'],
      properties: {
        uid: { type: 'integer', minimum: 0, maximum: 4294967294, description: 'User id inside the sandbox.' },
        gid: { type: 'integer', minimum: 0, maximum: 4294967294, description: 'Group id inside the sandbox.' },
      },
    },
    hostname: {
      type: 'string',
      pattern: '^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$',
      description: 'Host name inside the sandbox (--hostname). Absent: "sandbox".',
    },
    network: {
      type: 'string',
      pattern: '^(none|host|pasta|slirp4netns)(:[^\\u0000]+)?$',
      description: 'Network mode (--network). "none": a private network namespace with only lo; "pasta" or "slirp4netns": a private network namespace connected to the outside through that user-mode helper, the host\'s loopback unreachable unless ":allow-host-loopback" (slirp4netns also takes ":allow_host_loopback=true") follows; "host": the host\'s own network namespace. Absent: "none".',
    },
    publish: {
      type: 'array',
      description: 'Published ports (-p, which replaces this list): "[IP:]HOSTPORT:CTRPORT[/tcp|/udp]", bound to 127.0.0.1 unless IP is given; needs network pasta or slirp4netns. Absent or empty: none.',
      items: { type: 'string', pattern: '^(([0-9.]+|\\[[0-9A-Fa-f:.]+\\]):)?[0-9]{1,5}:[0-9]{1,5}(/(tcp|udp))?$', description: 'One mapping, e.g. "8080:80".' },
    },
    refuseHostNetwork: {
      type: 'boolean',
      description: 'When true, network "host" is refused: a workload under this profile never shares the host\'s network namespace. Absent: false.',
    },
    readOnly: {
      type: 'boolean',
      description: 'Read-only root file system (--read-only); tmpfs mounts and writable volumes stay writable. Absent: false.',
    },
    rootSize: { ...size, description: 'Size limit of the root tmpfs of the host image. Absent: "64m".' },
    workdir: { ...absolutePath, description: "Working directory of the workload (-w). Absent: the user's home directory." },
    tmpfs: {
      type: 'array',
      description: 'tmpfs mounts (--tmpfs). Absent: none besides the image defaults; /tmp is always a tmpfs.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { ...absolutePath, description: 'Mount point inside the sandbox.' },
          size: { ...size, description: 'Size limit. Absent: "64m".' },
          mode: { type: 'string', pattern: '^[0-7]{3,4}$', description: 'Octal mode of the mount root. Absent: "1777".' },
          owner: {
            type: 'string',
            enum: ['root', 'user'],
            description: '"user": owned by the workload uid/gid; "root": owned by uid 0. Absent: "root".',
          },
        },
      },
    },
    volumes: {
      type: 'array',
      description: 'Host paths bound into the sandbox (-v). Absent: none.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source', 'target'],
        properties: {
          source: { ...absolutePath, description: 'Host path; must exist.' },
          target: { ...absolutePath, description: 'Path inside the sandbox.' },
          writable: { type: 'boolean', description: 'Writable when true. Absent: false (read-only).' },
          noexec: { type: 'boolean', description: 'Nothing on it may be executed when true. Absent: false.' },
        },
      },
    },
    seccomp: {
      type: 'string',
      minLength: 1,
      description: 'Seccomp policy (--security-opt seccomp=): a name from `sandbox policy ls`, a path to a policy file, or "unconfined" (no filter). Absent: "default".',
    },
    capabilities: {
      type: 'object',
      additionalProperties: false,
      description: 'Capabilities of the workload, held inside its own user namespace only (they act on what that namespace owns): podman\'s default set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) with these added and dropped, as podman merges --cap-add and --cap-drop (which apply on top of the result). uid 0 holds them after exec; other uids only in the bounding set. Absent: podman\'s default set.',
      properties: {
        add: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_]+$', description: 'A capability, with or without CAP_ (e.g. "NET_ADMIN"), or "ALL".' }, description: 'Capabilities added to the default set. Absent or empty: none.' },
        drop: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_]+$', description: 'A capability, with or without CAP_ (e.g. "SETUID"), or "ALL".' }, description: 'Capabilities dropped from the default set ("ALL": all of them). Absent or empty: none.' },
      },
    },
    refuseCapAdd: {
      type: 'boolean',
      description: 'When true, --cap-add is refused: a workload under this profile never holds more capabilities than the profile gives it. Absent: false.',
    },
    refuseNewPrivileges: {
      type: 'boolean',
      description: 'When true, --security-opt no-new-privileges=false is refused: setuid files and file capabilities never raise a workload\'s privileges under this profile. Absent: false.',
    },
    refuseUnconfined: {
      type: 'boolean',
      description: 'When true, --security-opt seccomp=unconfined is refused: a workload under this profile is always filtered. Absent: false.',
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      description: 'Limits of a run (command-line flags override each). An absent field means no limit.',
      properties: {
        cpuTime: { type: 'number', exclusiveMinimum: 0, description: 'CPU time of the whole process tree in seconds, fractions allowed (--cpu-time).' },
        wallTime: { type: 'number', exclusiveMinimum: 0, description: 'Wall-clock time from exec in seconds (--wall-time).' },
        memory: { ...size, description: 'Memory of the whole tree with cgroups, per process with the rlimit fallback; swap is disabled (--memory).' },
        pids: { type: 'integer', minimum: 1, description: 'Processes and threads (--pids).' },
        fsize: { ...size, description: 'Largest file the workload may write (--fsize).' },
        nofile: { type: 'integer', minimum: 1, description: 'Open files per process (--nofile).' },
        stack: { ...size, description: 'Stack size per process (--stack).' },
        addressSpace: { ...size, description: 'Address space per process (RLIMIT_AS), whatever backend holds the tree (isolate -m).' },
        output: { ...size, description: 'Bytes the workload may write to stdout and stderr together (--output-limit).' },
      },
    },
    env: {
      type: 'object',
      description: 'Environment variables added for the workload (-e overrides). Absent: none besides PATH, HOME, HOSTNAME (and TERM with -t).',
      propertyNames: { pattern: '^[^=\\u0000]+$' },
      additionalProperties: { type: 'string', pattern: '^[^\\u0000]*$', description: 'The value (no NUL bytes).' },
    },
  },
} as const;

// The JSON Schema of a `sandbox serve` run request (POST /run), and its
// type. Compiled ahead of time into src/serve/generated/validate-request.js
// by scripts/gen-validators.mjs (first error only: a bad request gets 400
// with the JSON pointer of that one problem).
// Must not: name host paths, volumes, networks or users: a request only
// chooses among what the server allows (a built-in profile, limits, its own box).

/** Sizes as the CLI takes them: bytes, or a number with k, m or g (powers of 1024). */
const size = {
  description: 'A size: bytes (an integer), or a string with a k, m or g suffix (powers of 1024), e.g. "64m".',
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^[1-9][0-9]{0,14}[kKmMgG]?$' },
  ],
} as const;

/**
 * A path relative to the box: components of 1-255 bytes without "/" or NUL,
 * none "." or "..", at most 32 deep. Checked again where it is used.
 */
export const RELATIVE_PATH_PATTERN = '^(?!(?:[^/]*/)*\\.\\.?(?:/|$))[^/\\u0000]{1,255}(?:/[^/\\u0000]{1,255}){0,31}$';
const relativePath = {
  type: 'string', pattern: RELATIVE_PATH_PATTERN,
  description: 'A path relative to the box (/box inside): no leading "/", no ".", ".." or empty components, at most 32 deep.',
} as const;

const base64 = { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' } as const;
const noNul = '^[^\\u0000]*$';

export const serveRequestSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://rootless-sandbox.dev/schemas/serve-request.json',
  title: 'sandbox serve run request',
  type: 'object',
  additionalProperties: false,
  required: ['command'],
  properties: {
    command: {
      type: 'array', minItems: 1, maxItems: 4096,
      items: { type: 'string', pattern: noNul, description: 'One argument (no NUL bytes).' },
      description: 'Program and arguments; the program is looked up in PATH inside the sandbox. The working directory is the box (/box).',
    },
    image: { enum: ['host'], description: 'Only "host" (read-only binds of the host\'s toolchains). Absent: "host".' },
    profile: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'A built-in profile (`sandbox profile ls`). Default: the server\'s (--profile, strict).' },
    files: {
      type: 'array', maxItems: 4096,
      description: 'Files placed in the box before the run, each with exactly one of content and base64. Absent or empty: the box starts empty.',
      items: {
        type: 'object',
        description: 'One file: its path and its contents (content or base64), optionally its mode.',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { ...relativePath, description: 'Where the file goes, relative to the box; missing parent directories are made (0777: the workload may write in them).' },
          content: { type: 'string', description: 'The file\'s contents as text (written as UTF-8).' },
          base64: { ...base64, description: 'The file\'s contents as bytes, base64.' },
          mode: { type: 'integer', minimum: 0, maximum: 0o777, description: 'Permission bits (no setuid, setgid or sticky bit). Absent: 0644; a program needs 0755 (493).' },
        },
      },
    },
    stdin: {
      anyOf: [
        { type: 'string' },
        { type: 'object', additionalProperties: false, required: ['base64'], properties: { base64: { ...base64, description: 'The bytes, base64.' } } },
      ],
      description: 'The workload\'s standard input: text, or {"base64": ...}. Absent: /dev/null.',
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      description: 'Limits, each overriding the profile\'s; "unlimited" is not taken. Absent or empty: the profile\'s, and without a wallTime here or in the profile the server\'s --wall-time.',
      properties: {
        cpuTime: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'CPU seconds of the whole tree: TLE.' },
        wallTime: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Seconds from exec: WLE.' },
        memory: { ...size, description: 'Memory of the whole tree (cgroup), or per process (rlimit fallback): MLE. A size as "256m".' },
        pids: { type: 'integer', minimum: 1, maximum: 1048576, description: 'Processes and threads.' },
        fsize: { ...size, description: 'Largest file the workload may write: OLE. A size as "1m".' },
        nofile: { type: 'integer', minimum: 1, maximum: 1048576, description: 'Open files per process.' },
        stack: { ...size, description: 'Stack size per process. A size as "8m".' },
        output: { ...size, description: 'Bytes of stdout and stderr together: OLE (and what is captured). A size as "1m".' },
      },
    },
    env: {
      type: 'object', maxProperties: 1024,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,255}$' },
      additionalProperties: { type: 'string', pattern: noNul, description: 'The value (no NUL bytes).' },
      description: 'Environment variables added for the workload (names: letters, digits, "_"). Absent or empty: only the profile\'s and PATH, HOME, HOSTNAME.',
    },
    returnFiles: {
      type: 'array', maxItems: 1024, uniqueItems: true,
      items: relativePath,
      description: 'Files of the box returned after the run (regular files only; symbolic links are never followed). Absent or empty: none.',
    },
    outputEncoding: { enum: ['utf8', 'base64'], description: 'How stdout, stderr and returned files are given: "utf8" (default) or "base64".' },
  },
} as const;

export interface ServeFile {
  readonly path: string;
  readonly content?: string;
  readonly base64?: string;
  readonly mode?: number;
}

export type SizeLimit = number | string;

export interface ServeRequest {
  readonly command: readonly string[];
  readonly image?: 'host';
  readonly profile?: string;
  readonly files?: readonly ServeFile[];
  readonly stdin?: string | { readonly base64: string };
  readonly limits?: {
    readonly cpuTime?: number;
    readonly wallTime?: number;
    readonly memory?: SizeLimit;
    readonly pids?: number;
    readonly fsize?: SizeLimit;
    readonly nofile?: number;
    readonly stack?: SizeLimit;
    readonly output?: SizeLimit;
  };
  readonly env?: Readonly<Record<string, string>>;
  readonly returnFiles?: readonly string[];
  readonly outputEncoding?: 'utf8' | 'base64';
}

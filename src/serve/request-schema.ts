// The JSON Schema of a `sandbox serve` run request (POST /run), and its
// type. Compiled ahead of time into src/serve/generated/validate-request.js
// by scripts/gen-validators.mjs (first error only: a bad request gets 400
// with the JSON pointer of that one problem).
// Must not: name host paths, volumes, networks or users: a request only
// chooses among what the server allows (a built-in profile, limits, its own box).

/** Sizes as the CLI takes them: bytes, or a number with k, m or g (powers of 1024). */
const size = {
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
const relativePath = { type: 'string', pattern: RELATIVE_PATH_PATTERN } as const;

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
      items: { type: 'string', pattern: noNul },
      description: 'Program and arguments; the program is looked up in PATH inside the sandbox. The working directory is the box (/box).',
    },
    image: { enum: ['host'], description: 'Only "host" (read-only binds of the host\'s toolchains).' },
    profile: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'A built-in profile (`sandbox profile ls`). Default: the server\'s (--profile, strict).' },
    files: {
      type: 'array', maxItems: 4096,
      description: 'Files placed in the box before the run, each with exactly one of content and base64; parent directories are made.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: relativePath,
          content: { type: 'string', description: 'UTF-8 text.' },
          base64: { ...base64, description: 'Bytes, base64.' },
          mode: { type: 'integer', minimum: 0, maximum: 0o777, description: 'Permission bits (default 0644; 0755 for a program).' },
        },
      },
    },
    stdin: {
      anyOf: [
        { type: 'string' },
        { type: 'object', additionalProperties: false, required: ['base64'], properties: { base64 } },
      ],
      description: 'The workload\'s standard input: text, or {"base64": ...}. Absent: /dev/null.',
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      description: 'Limits (override the profile\'s). Without wallTime (here or in the profile) the server\'s default applies.',
      properties: {
        cpuTime: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'CPU seconds of the whole tree: TLE.' },
        wallTime: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Seconds from exec: WLE.' },
        memory: size,
        pids: { type: 'integer', minimum: 1, maximum: 1048576 },
        fsize: size,
        nofile: { type: 'integer', minimum: 1, maximum: 1048576 },
        stack: size,
        output: size,
      },
    },
    env: {
      type: 'object', maxProperties: 1024,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,255}$' },
      additionalProperties: { type: 'string', pattern: noNul },
      description: 'Environment variables added for the workload.',
    },
    returnFiles: {
      type: 'array', maxItems: 1024, uniqueItems: true,
      items: relativePath,
      description: 'Files of the box returned after the run (regular files only; symbolic links are never followed).',
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

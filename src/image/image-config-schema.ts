// The JSON Schema of an image config (the OCI image-spec "application/vnd.oci.image.config.v1+json",
// and Docker's image JSON, which has the same fields). Compiled ahead of time into
// src/image/generated/validate-image-config.js by scripts/gen-validators.mjs.
// Unknown fields are allowed: real images carry extras (Docker's container_config,
// Healthcheck, OnBuild, Shell, ...) that a run does not use. null is allowed where
// Go tools write it for an empty list or map (Cmd, Entrypoint, Env, Volumes, ...).
// Must not: carry defaults.

const stringList = (description: string, item: string) => ({
  type: 'array',
  nullable: true,
  items: { type: 'string', description: item },
  description: `${description} null or absent: none.`,
}) as const;

const emptyObject = { type: 'object', description: 'An empty object (the image spec reserves the value).' } as const;

const digest = { type: 'string', pattern: '^sha256:[a-f0-9]{64}$', description: 'A sha256 digest: "sha256:" and 64 lower-case hex digits.' } as const;

export const imageConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://rootless-sandbox.dev/schemas/image-config.json',
  title: 'OCI image config',
  description: 'What an image says about itself: platform, layers (by diff ID) and the defaults of a container run from it. Every field is optional here; a run applies Entrypoint, Cmd, Env, WorkingDir and User the way `podman run` does.',
  type: 'object',
  properties: {
    created: { type: 'string', description: 'When the image was created (RFC 3339); informational.' },
    author: { type: 'string', description: 'Who made the image; informational.' },
    architecture: { type: 'string', description: 'CPU architecture of the binaries, in Go terms (amd64, arm64, ...).' },
    os: { type: 'string', description: 'Operating system of the binaries (linux).' },
    'os.version': { type: 'string', description: 'Operating system version (Windows images); informational.' },
    'os.features': { type: 'array', items: { type: 'string', description: 'One feature.' }, description: 'Operating system features the image needs (Windows images); informational.' },
    variant: { type: 'string', description: 'CPU variant (v7, v8, ...).' },
    config: {
      type: 'object',
      nullable: true,
      description: 'The defaults of a container run from the image. null or absent: none.',
      properties: {
        User: { type: 'string', description: 'USER, UID, USER:GROUP or UID:GID the process runs as (names from the image\'s /etc/passwd and /etc/group). Empty or absent: root (uid 0).' },
        ExposedPorts: {
          type: 'object', nullable: true,
          additionalProperties: emptyObject,
          description: 'Ports the image listens on, as "PORT/tcp" keys; informational (publish with -p). null or absent: none.',
        },
        Env: stringList('The environment, as "NAME=value" strings; flags override it.', 'One "NAME=value" entry.'),
        Entrypoint: stringList('The program and first arguments; the command given (else Cmd) is appended.', 'One argument.'),
        Cmd: stringList('The default command (after Entrypoint) when none is given.', 'One argument.'),
        Volumes: {
          type: 'object', nullable: true,
          additionalProperties: emptyObject,
          description: 'Directories the image wants as volumes, as path keys; informational (mount with -v). null or absent: none.',
        },
        WorkingDir: { type: 'string', description: 'The working directory of the process (-w overrides it). Empty or absent: /.' },
        Labels: {
          type: 'object', nullable: true,
          additionalProperties: { type: 'string', description: 'A label value.' },
          description: 'Arbitrary metadata as string keys and values; informational. null or absent: none.',
        },
        StopSignal: { type: 'string', description: 'The signal that asks the process to stop (e.g. "SIGTERM"); informational.' },
        ArgsEscaped: { type: 'boolean', description: 'Windows only (deprecated); ignored.' },
      },
    },
    rootfs: {
      type: 'object',
      description: 'The layers, as their diff IDs. Absent: the layers cannot be tied to the config (refused where nothing else ties them).',
      required: ['type', 'diff_ids'],
      properties: {
        type: { type: 'string', enum: ['layers'], description: 'Always "layers".' },
        diff_ids: { type: 'array', items: digest, description: 'The sha256 of each uncompressed layer tar, bottom layer first; one per layer of the manifest.' },
      },
    },
    history: {
      type: 'array',
      nullable: true,
      description: 'How each layer was made; informational. null or absent: none.',
      items: {
        type: 'object',
        description: 'One step.',
        properties: {
          created: { type: 'string', description: 'When (RFC 3339).' },
          created_by: { type: 'string', description: 'The command that made the layer.' },
          author: { type: 'string', description: 'Who.' },
          comment: { type: 'string', description: 'A comment.' },
          empty_layer: { type: 'boolean', description: 'true: the step made no layer.' },
        },
      },
    },
  },
} as const;

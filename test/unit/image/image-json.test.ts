// The checks every image document gets, pulled or loaded (image-json.ts):
// the config schema's messages for wrong JSON types, null where Go tools
// write it, unknown fields allowed; descriptor sizes; the config size limit.
import { describe, expect, it } from 'vitest';
import { imageConfigSchema } from '../../../src/image/image-config-schema.js';
import { checkConfig, checkDescriptor, checkManifest, validateImageConfig } from '../../../src/image/image-json.js';
import { isSandboxError } from '../../../src/errors.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const SRC = 'docker://127.0.0.1:5000/bad:v1';

function errorOf(fn: () => unknown): { message: string; hint: string | undefined; code: string } {
  try {
    fn();
  } catch (e) {
    if (!isSandboxError(e)) throw e;
    return { message: e.message, hint: e.hint, code: e.code };
  }
  throw new Error('no error');
}

describe('image config schema', () => {
  const wrong: [string, object, string][] = [
    ['Cmd: 5', { Cmd: 5 }, '/config/Cmd: must be array'],
    ['Cmd: [1,2]', { Cmd: [1, 2] }, '/config/Cmd/0: must be string; /config/Cmd/1: must be string'],
    ['Cmd as a string', { Cmd: '/bin/sh -c id' }, '/config/Cmd: must be array'],
    ['Env: 5', { Env: 5 }, '/config/Env: must be array'],
    ['Env: [123]', { Env: [123] }, '/config/Env/0: must be string'],
    ['Env as a string', { Env: 'A=1' }, '/config/Env: must be array'],
    ['Entrypoint: {}', { Entrypoint: {} }, '/config/Entrypoint: must be array'],
    ['User: {}', { User: {} }, '/config/User: must be string'],
    ['User: 1000', { User: 1000 }, '/config/User: must be string'],
    ['WorkingDir: 5', { WorkingDir: 5 }, '/config/WorkingDir: must be string'],
    ['Labels with a number', { Labels: { a: 1 } }, '/config/Labels/a: must be string'],
  ];
  it.each(wrong)('%s: named by JSON pointer, with what was expected, the image and a hint', (_name, config, problem) => {
    const e = errorOf(() => validateImageConfig(SRC, `config ${DIGEST}`, { architecture: 'amd64', os: 'linux', config }));
    expect(e.code).toBe('config');
    expect(e.message).toBe(`${SRC} (config ${DIGEST}): invalid image config: ${problem}`);
    expect(e.hint).toMatch(/OCI image spec/);
  });

  it('caps the list of problems', () => {
    const e = errorOf(() => validateImageConfig(SRC, 'config', { config: { Env: Array.from({ length: 50 }, (_, i) => i) } }));
    expect(e.message).toMatch(/\/config\/Env\/4: must be string; and 45 more$/);
  });

  it('accepts null where Docker and podman images write it, and fields it does not know', () => {
    const docker = {
      architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z', docker_version: '24.0.7',
      config: {
        Hostname: '', User: '', Env: null, Cmd: null, Entrypoint: null, Volumes: null, ExposedPorts: null, Labels: null,
        OnBuild: null, Healthcheck: { Test: ['CMD', 'true'] }, WorkingDir: '', StopSignal: 'SIGTERM', ArgsEscaped: true,
      },
      container_config: { Cmd: ['/bin/sh', '-c', '#(nop) CMD ["sh"]'] },
      rootfs: { type: 'layers', diff_ids: [DIGEST] },
      history: [{ created: '2024-01-02T03:04:05Z', created_by: 'ADD file', empty_layer: false }],
    };
    expect(validateImageConfig(SRC, 'config', docker)).toBe(docker);
    expect(validateImageConfig(SRC, 'config', { config: null })).toEqual({ config: null });
    expect(validateImageConfig(SRC, 'config', { config: { ExposedPorts: { '80/tcp': {} }, Volumes: { '/data': {} } } })).toBeTruthy();
  });

  it('refuses what is not an object, and diff IDs that are not sha256 digests', () => {
    expect(errorOf(() => validateImageConfig(SRC, 'config', [])).message).toMatch(/invalid image config: \/: must be object$/);
    expect(errorOf(() => validateImageConfig(SRC, 'config', { rootfs: { type: 'layers', diff_ids: ['md5:x'] } })).message)
      .toMatch(/\/rootfs\/diff_ids\/0: must match pattern/);
    expect(errorOf(() => validateImageConfig(SRC, 'config', { rootfs: { type: 'tar', diff_ids: [] } })).message)
      .toMatch(/\/rootfs\/type: must be one of "layers"/);
  });

  it('checkConfig parses, validates and counts the diff IDs against the layers', () => {
    const raw = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [DIGEST] } }));
    expect(checkConfig(SRC, 'config', raw, 1).rootfs?.diff_ids).toEqual([DIGEST]);
    expect(errorOf(() => checkConfig(SRC, 'config', raw, 2)).message).toMatch(/1 diff IDs for 2 layers/);
    expect(errorOf(() => checkConfig(SRC, 'config', Buffer.from('{"config":{"Cmd":5}}'), 0)).message).toMatch(/\/config\/Cmd: must be array/);
    expect(errorOf(() => checkConfig(SRC, 'config', Buffer.from('{'), 0)).message).toMatch(/not valid JSON/);
  });

  type Node = Record<string, unknown>;
  function walk(node: Node, at: string, out: string[]): void {
    for (const [name, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
      if (typeof child.description !== 'string' || !child.description.trim()) out.push(`${at}/${name}`);
      walk(child, `${at}/${name}`, out);
    }
    for (const key of ['items', 'additionalProperties']) {
      const child = node[key] as Node | undefined;
      if (child && typeof child === 'object') {
        if (typeof child.description !== 'string' || !child.description.trim()) out.push(`${at}/${key}`);
        walk(child, `${at}/${key}`, out);
      }
    }
  }

  it('describes every field at every level, and covers the OCI config fields', () => {
    const missing: string[] = [];
    walk(imageConfigSchema as unknown as Node, '', missing);
    expect(missing, 'schema nodes without a description').toEqual([]);
    const fields = Object.keys(imageConfigSchema.properties.config.properties);
    for (const f of ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal']) expect(fields).toContain(f);
    for (const f of ['architecture', 'os', 'rootfs', 'history']) expect(Object.keys(imageConfigSchema.properties)).toContain(f);
  });
});

describe('descriptors and manifests', () => {
  const d = (size: unknown) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: DIGEST, size });

  it.each([-1, 1.5, Number.MAX_SAFE_INTEGER + 2, '10', null])('size %s is not a byte count', (size) => {
    const e = errorOf(() => checkDescriptor(SRC, `manifest ${DIGEST}`, '/layers/0', d(size)));
    expect(e.message).toMatch(new RegExp(`^docker://127\\.0\\.0\\.1:5000/bad:v1 \\(manifest ${DIGEST} /layers/0/size\\): .* is not a byte count`));
  });

  it('a config descriptor over 4 MiB is refused before anything is fetched', () => {
    const manifest = { schemaVersion: 2, config: { ...d(300 * 1024 * 1024), mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [d(1)] };
    expect(errorOf(() => checkManifest(SRC, 'manifest', manifest)).message)
      .toBe(`${SRC} (manifest /config/size): the config is 314572800 bytes, more than the 4194304 allowed`);
    expect(checkManifest(SRC, 'manifest', { ...manifest, config: { ...manifest.config, size: 4 * 1024 * 1024 } }).layers).toHaveLength(1);
  });
});

// Test helper: small synthetic images as OCI layouts (a directory or a tar
// of one) and docker-archives (legacy layout, as `docker save` wrote before
// Docker 25), built in memory with tar-stream. Files map path -> bytes.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tarOf, type TestEntry } from '../unpack/layer-archive.js';

export const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (b: Buffer) => sha(b).slice(7);

export interface BuiltImage {
  layers: Buffer[];
  /** Uncompressed tars, for the diff IDs. */
  tars: Buffer[];
  config: Buffer;
  manifest: Buffer;
  manifestDigest: string;
}

export async function layer(files: Record<string, string>): Promise<Buffer> {
  return tarOf(Object.entries(files).map(([name, body]) => ({ name, body, mode: 0o644 })));
}

export function buildImage(layers: { blob: Buffer; tar: Buffer; mediaType?: string }[], opts: { arch?: string; diffIds?: string[]; cmd?: string[] } = {}): BuiltImage {
  const config = Buffer.from(JSON.stringify({
    architecture: opts.arch ?? 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z',
    config: { Env: ['PATH=/bin'], Cmd: opts.cmd ?? ['/hello'], WorkingDir: '/', Labels: { a: 'b' } },
    rootfs: { type: 'layers', diff_ids: opts.diffIds ?? layers.map((l) => sha(l.tar)) },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar', digest: sha(l.blob), size: l.blob.length })),
  }));
  return { layers: layers.map((l) => l.blob), tars: layers.map((l) => l.tar), config, manifest, manifestDigest: sha(manifest) };
}

export type Files = Map<string, Buffer>;

/** An OCI layout holding `images`, each listed in index.json (with ref name and platform if given). */
export function ociLayout(images: { image: BuiltImage; ref?: string; platform?: { os: string; architecture: string } }[], extraIndex?: object): Files {
  const files: Files = new Map();
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  for (const { image } of images) {
    for (const b of [...image.layers, image.config, image.manifest]) files.set(`blobs/sha256/${hex(b)}`, b);
  }
  files.set('index.json', Buffer.from(JSON.stringify(extraIndex ?? {
    schemaVersion: 2,
    manifests: images.map(({ image, ref, platform }) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: image.manifest.length,
      ...(ref ? { annotations: { 'org.opencontainers.image.ref.name': ref } } : {}),
      ...(platform ? { platform } : {}),
    })),
  })));
  return files;
}

/** A docker-archive in the legacy layout: <id>/layer.tar, <config hex>.json, manifest.json. */
export function dockerArchive(image: BuiltImage, repoTags: string[] | null, layerNames?: string[]): Files {
  const files: Files = new Map();
  const names = layerNames ?? image.layers.map((b, i) => `${hex(Buffer.from(`${i}${hex(b)}`))}/layer.tar`);
  image.layers.forEach((b, i) => files.set(names[i]!, b));
  files.set(`${hex(image.config)}.json`, image.config);
  files.set('manifest.json', Buffer.from(JSON.stringify([{ Config: `${hex(image.config)}.json`, RepoTags: repoTags, Layers: names }])));
  files.set('repositories', Buffer.from('{}'));
  return files;
}

export function writeTree(dir: string, files: Files): void {
  for (const [name, data] of files) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
}

export async function tarFiles(files: Files, extra: TestEntry[] = []): Promise<Buffer> {
  return tarOf([...[...files].map(([name, body]) => ({ name, body, mode: 0o644 })), ...extra]);
}

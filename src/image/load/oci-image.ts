// Reads one image out of an OCI image layout (a directory or an archive,
// behind OciBlobSource): index.json, the manifest chosen by ref name
// (org.opencontainers.image.ref.name) and platform, through nested indexes,
// then the manifest and config, every blob checked against its digest.
// Must not: store or unpack anything (the loaders do), or trust a size or
// media type it did not check.
import { createHash } from 'node:crypto';
import type { ImageConfig } from '../registry/pull-image.js';
import { isIndexMediaType, isManifestMediaType, MEDIA_TYPES, type Descriptor, type ImageIndex, type ImageManifest } from '../oci-types.js';
import { formatPlatform, selectPlatform, type Platform } from '../platform.js';
import { checkConfig, checkIndex, checkManifest, parseImageJson } from '../image-json.js';
import { LOAD_LIMITS, loadError } from './load-error.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface OciBlobSource {
  /** The layout, for messages: "oci:DIR" or "oci-archive:FILE". */
  readonly name: string;
  /** The bytes of a small file of the layout (index.json, oci-layout), or null if missing. */
  readFile(path: string, maxBytes: number): Promise<Buffer | null>;
  /** The bytes of a small blob, NOT yet verified, or null if missing. */
  readBlob(digest: string, maxBytes: number): Promise<Buffer | null>;
}

export interface OciImage {
  readonly manifestDigest: string;
  readonly manifestRaw: Buffer;
  readonly manifest: ImageManifest;
  readonly configDigest: string;
  readonly configRaw: Buffer;
  readonly config: ImageConfig;
  /** The ref name annotations that led to this manifest (may be just a tag: "v1"). */
  readonly refNames: string[];
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A small blob's bytes after checking its size and digest against `d`. */
export async function readVerifiedBlob(source: OciBlobSource, d: Descriptor, at: string): Promise<Buffer> {
  if (d.size > LOAD_LIMITS.maxJsonBytes) {
    throw loadError(source.name, at, `${d.digest} is ${d.size} bytes, more than the ${LOAD_LIMITS.maxJsonBytes} allowed for a manifest or config`);
  }
  const raw = await source.readBlob(d.digest, LOAD_LIMITS.maxJsonBytes);
  if (!raw) throw loadError(source.name, at, `blob ${d.digest} is missing from blobs/sha256/`);
  const actual = sha256(raw);
  if (actual !== d.digest || raw.length !== d.size) {
    throw loadError(source.name, at, `blob ${d.digest} does not match its descriptor (digest ${actual}, ${raw.length} bytes for ${d.size})`,
      'the layout is corrupt or was tampered with; nothing was recorded');
  }
  return raw;
}

function refNameOf(d: Descriptor): string | null {
  return d.annotations?.[REF_NAME] ?? null;
}

/** Picks a descriptor from an index: by ref name if given, else the only entry, else by platform. */
function pick(source: OciBlobSource, where: string, index: ImageIndex, ref: string | null, platform: Platform, top: boolean): Descriptor {
  const entries = index.manifests;
  if (top && ref !== null) {
    const named = entries.filter((d) => refNameOf(d) === ref);
    if (named.length === 0) {
      const known = entries.map(refNameOf).filter((n): n is string => n !== null);
      throw loadError(source.name, where, `no image named "${ref}"`,
        known.length ? `the layout names: ${known.join(', ')}` : 'the layout names no image; leave the reference out');
    }
    if (named.length === 1) return named[0]!;
    return pickPlatform(source, where, { ...index, manifests: named }, platform);
  }
  // one entry is the image (podman takes it too); inside an index its platform must still fit
  if (entries.length === 1 && (top || !entries[0]!.platform)) return entries[0]!;
  if (top) {
    const names = [...new Set(entries.map(refNameOf).filter((n): n is string => n !== null))];
    if (names.length > 1) {
      throw loadError(source.name, where, `the layout holds ${entries.length} images (${names.join(', ')})`, `name one: ${source.name}:NAME`);
    }
  }
  return pickPlatform(source, where, index, platform);
}

function pickPlatform(source: OciBlobSource, where: string, index: ImageIndex, platform: Platform): Descriptor {
  const d = selectPlatform(index, platform);
  if (!d) {
    const have = index.manifests.map((m) => formatPlatform(m.platform)).join(', ');
    throw loadError(source.name, where, `no image for platform ${formatPlatform(platform)} (there are: ${have || 'none'})`, 'choose another platform with --platform');
  }
  return d;
}

/** The image `ref` (or the only/platform one) of an OCI layout. */
export async function readOciImage(source: OciBlobSource, ref: string | null, platform: Platform): Promise<OciImage> {
  const layoutRaw = await source.readFile('oci-layout', 4096);
  if (layoutRaw) {
    const v = (parseImageJson(source.name, 'oci-layout', layoutRaw) as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (v !== '1.0.0') throw loadError(source.name, 'oci-layout /imageLayoutVersion', `unsupported version "${String(v)}"`, 'only OCI image layout 1.0.0 is supported');
  }
  const indexRaw = await source.readFile('index.json', LOAD_LIMITS.maxJsonBytes);
  if (!indexRaw) throw loadError(source.name, 'index.json', 'missing: this is not an OCI image layout', 'for what `docker save` writes use docker-archive:FILE');
  let where = 'index.json';
  let index = checkIndex(source.name, where, parseImageJson(source.name, where, indexRaw));
  const refNames: string[] = [];
  for (let depth = 0; ; depth++) {
    const d = pick(source, where, index, ref, platform, depth === 0);
    const name = refNameOf(d);
    if (name) refNames.push(name);
    const blobWhere = `blobs/${d.digest.replace(':', '/')}`;
    const raw = await readVerifiedBlob(source, d, blobWhere);
    const value = parseImageJson(source.name, blobWhere, raw) as { mediaType?: string; manifests?: unknown; layers?: unknown } | null;
    // the descriptor's media type says what it is; a manifest without one is told apart by its fields
    const mediaType = isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType) ? d.mediaType
      : value?.manifests !== undefined ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
    if (isIndexMediaType(mediaType)) {
      if (depth + 1 >= LOAD_LIMITS.maxIndexDepth) throw loadError(source.name, blobWhere, `image indexes nested more than ${LOAD_LIMITS.maxIndexDepth} deep`);
      where = blobWhere;
      index = checkIndex(source.name, where, value);
      continue;
    }
    const manifest = checkManifest(source.name, blobWhere, value);
    const configWhere = `blobs/${manifest.config.digest.replace(':', '/')}`;
    const configRaw = await readVerifiedBlob(source, manifest.config, configWhere);
    const config = checkConfig(source.name, configWhere, configRaw, manifest.layers.length);
    return { manifestDigest: d.digest, manifestRaw: raw, manifest, configDigest: manifest.config.digest, configRaw, config, refNames };
  }
}

// The JSON documents of an image (index, manifest, config), checked the same
// way whether a registry sent them or a loader read them from an archive or
// a layout: descriptors with a sha256 digest and a byte count, layer and
// size limits, and the config against its schema (image-config-schema.ts).
// Every document is hostile input: errors name the image, the document and
// the JSON pointer of the field.
// Must not: fetch or read anything (callers cap what they read at
// LOAD_LIMITS.maxJsonBytes before parsing).
import { describeSchemaError } from '../config/load-json-config.js';
import validateImageConfigSchema from './generated/validate-image-config.js';
import { LOAD_LIMITS, loadError, pointer } from './load/load-error.js';
import type { ImageConfig } from './registry/pull-image.js';
import type { Descriptor, ImageIndex, ImageManifest } from './oci-types.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_SCHEMA_ERRORS = 5;

/** `raw` parsed as JSON; `where` names the document in `src`. */
export function parseImageJson(src: string, where: string, raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw loadError(src, where, `not valid JSON: ${(e as Error).message}`);
  }
}

/** Checks a descriptor's shape; `at` is its JSON pointer in `file`. */
export function checkDescriptor(src: string, file: string, at: string, d: unknown): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object') throw loadError(src, `${file} ${at}`, 'not a descriptor object');
  if (typeof o.digest !== 'string' || !DIGEST.test(o.digest)) {
    throw loadError(src, `${file} ${at}/digest`, `"${String(o.digest)}" is not a sha256 digest`, 'only sha256 digests are supported');
  }
  // a negative or fractional size would disable the limit that a download is held to
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw loadError(src, `${file} ${at}/size`, `${JSON.stringify(o.size) ?? 'absent'} is not a byte count (a non-negative integer)`);
  }
  if (typeof o.mediaType !== 'string') throw loadError(src, `${file} ${at}/mediaType`, 'missing media type');
  return o as Descriptor;
}

/** Checks an image index (or Docker manifest list) and its descriptors. */
export function checkIndex(src: string, file: string, value: unknown): ImageIndex {
  const o = value as Partial<ImageIndex> | null;
  if (!o || typeof o !== 'object' || o.schemaVersion !== 2) throw loadError(src, `${file} /schemaVersion`, 'not an image index with schemaVersion 2');
  if (!Array.isArray(o.manifests)) throw loadError(src, `${file} /manifests`, 'missing the manifests array');
  if (o.manifests.length === 0) throw loadError(src, `${file} /manifests`, 'the index lists no image');
  o.manifests.forEach((d, i) => checkDescriptor(src, file, pointer('manifests', i), d));
  return o as ImageIndex;
}

/** Checks a manifest's config and layers (digests, sizes, count); the config must fit the JSON limit. */
export function checkManifest(src: string, file: string, value: unknown): ImageManifest {
  const o = value as Partial<ImageManifest> | null;
  if (!o || typeof o !== 'object' || o.schemaVersion !== 2) throw loadError(src, `${file} /schemaVersion`, 'not an image manifest with schemaVersion 2');
  const config = checkDescriptor(src, file, '/config', o.config);
  if (config.size > LOAD_LIMITS.maxJsonBytes) {
    throw loadError(src, `${file} /config/size`, `the config is ${config.size} bytes, more than the ${LOAD_LIMITS.maxJsonBytes} allowed`);
  }
  if (!Array.isArray(o.layers)) throw loadError(src, `${file} /layers`, 'missing the layers array');
  if (o.layers.length > LOAD_LIMITS.maxLayers) throw loadError(src, `${file} /layers`, `${o.layers.length} layers, more than the ${LOAD_LIMITS.maxLayers} allowed`);
  o.layers.forEach((d, i) => checkDescriptor(src, file, pointer('layers', i), d));
  return o as ImageManifest;
}

/** Checks a parsed image config against the schema; `where` names the config in `src`. */
export function validateImageConfig(src: string, where: string, value: unknown,
  hint = 'the image config does not follow the OCI image spec (Entrypoint, Cmd and Env are lists of strings or null; User and WorkingDir are strings): fix the config and build the image again'): ImageConfig {
  if (!validateImageConfigSchema(value)) {
    const errors = validateImageConfigSchema.errors ?? [];
    const shown = errors.slice(0, MAX_SCHEMA_ERRORS).map(describeSchemaError);
    if (errors.length > shown.length) shown.push(`and ${errors.length - shown.length} more`);
    throw loadError(src, where, `invalid image config: ${shown.join('; ')}`, hint);
  }
  return value as ImageConfig;
}

/** Parses and checks an image config; rootfs.diff_ids must match the layer count. */
export function checkConfig(src: string, where: string, raw: Buffer, layerCount: number): ImageConfig {
  const c = validateImageConfig(src, where, parseImageJson(src, where, raw));
  const ids = c.rootfs?.diff_ids;
  if (ids !== undefined && ids.length !== layerCount) throw loadError(src, `${where} /rootfs/diff_ids`, `${ids.length} diff IDs for ${layerCount} layers`);
  return c;
}

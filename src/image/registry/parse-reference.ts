// Image references in the containers/image transport syntax that podman and
// skopeo users know: docker://NAME[:TAG|@DIGEST] (and the same without the
// prefix, with Docker Hub's rules), oci:DIR[:REF], oci-archive:FILE[:REF],
// docker-archive:FILE, a plain directory path, and `host`.
import { SandboxError } from '../../errors.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's API really answers (docker.io itself redirects). */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface DockerReference {
  readonly transport: 'docker';
  /** Registry host[:port], e.g. docker.io, quay.io, 127.0.0.1:5000. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. library/alpine. */
  readonly repository: string;
  /** Tag, or null when the reference is pinned by digest only. */
  readonly tag: string | null;
  /** sha256:<64 hex>, or null. */
  readonly digest: string | null;
  /** The canonical form, e.g. docker.io/library/alpine:3.20. */
  readonly canonical: string;
}

export interface OciLayoutReference {
  readonly transport: 'oci';
  readonly path: string;
  /** The org.opencontainers.image.ref.name to pick, or null for the only one. */
  readonly ref: string | null;
}

export interface OciArchiveReference {
  readonly transport: 'oci-archive';
  readonly path: string;
  readonly ref: string | null;
}

export interface DockerArchiveReference {
  readonly transport: 'docker-archive';
  readonly path: string;
  /** NAME[:TAG] picking one image of a multi-image archive (by its RepoTags), or null. */
  readonly name?: string | null;
}

export interface DirectoryReference {
  readonly transport: 'dir';
  readonly path: string;
}

export interface HostReference {
  readonly transport: 'host';
}

export type ImageReference =
  | DockerReference
  | OciLayoutReference
  | OciArchiveReference
  | DockerArchiveReference
  | DirectoryReference
  | HostReference;

// The distribution spec's grammar (reference.go): lower-case path
// components separated by '.', '_', '__' or '-'s; tags up to 128 characters.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;

function refuse(input: string, what: string, hint?: string): never {
  throw new SandboxError('usage', `invalid image reference "${input}": ${what}`, hint
    ?? 'use docker://[REGISTRY/]NAME[:TAG|@sha256:DIGEST], NAME[:TAG], oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME], a directory path, or host');
}

/**
 * Parses a registry reference (without the docker:// prefix) with Docker
 * Hub's rules: no registry host means docker.io, a single component on
 * docker.io means library/NAME, and no tag or digest means `latest`.
 */
export function parseDockerReference(name: string, input: string = name): DockerReference {
  if (name === '') refuse(input, 'the name is empty');
  if (/\s/.test(name)) refuse(input, 'it contains white space');
  let rest = name;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) refuse(input, `"${digest}" is not a sha256 digest (sha256: and 64 lower-case hex digits)`);
  }
  // A tag is after the last ':' that comes after the last '/' (a ':' before
  // it is a registry port).
  let tag: string | null = null;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) refuse(input, `"${tag}" is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`);
  }
  if (rest === '') refuse(input, 'the repository name is empty');
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) refuse(input, `"${registry}" is not a valid registry host[:port]`);
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  for (const part of parts) {
    if (part === '') refuse(input, 'the repository has an empty path component');
    if (!PATH_COMPONENT.test(part)) {
      refuse(input, /[A-Z]/.test(part)
        ? `repository name "${parts.join('/')}" must be lower-case`
        : `"${part}" is not a valid repository path component (lower-case letters, digits, separated by '.', '_', '__' or '-')`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) refuse(input, 'the repository name is longer than 255 characters');
  if (tag === null && digest === null) tag = 'latest';
  const canonical = `${registry}/${repository}${tag !== null ? `:${tag}` : ''}${digest !== null ? `@${digest}` : ''}`;
  return { transport: 'docker', registry, repository, tag, digest, canonical };
}

/** Splits PATH[:REF] as containers/image does for oci: and oci-archive:. */
function splitPathRef(body: string, input: string, transport: string): { path: string; ref: string | null } {
  if (body === '') refuse(input, `${transport}: needs a path`);
  const colon = body.indexOf(':');
  const path = colon >= 0 ? body.slice(0, colon) : body;
  const ref = colon >= 0 ? body.slice(colon + 1) : null;
  if (path === '') refuse(input, `${transport}: needs a path before ':'`);
  if (ref !== null && ref === '') refuse(input, `the reference after "${transport}:${path}:" is empty`);
  if (ref !== null && !/^[A-Za-z0-9._:@/+-]+$/.test(ref)) refuse(input, `"${ref}" is not a valid image reference name in the layout`);
  return { path, ref };
}

function isPathLike(s: string): boolean {
  return s.startsWith('/') || s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..';
}

export function parseImageReference(input: string): ImageReference {
  if (typeof input !== 'string' || input.trim() === '') refuse(String(input), 'it is empty');
  if (input === 'host') return { transport: 'host' };
  if (input.startsWith('docker://')) {
    const body = input.slice('docker://'.length);
    if (body === '') refuse(input, 'docker:// needs an image name');
    return parseDockerReference(body, input);
  }
  if (input.startsWith('docker:')) refuse(input, 'the docker transport is written docker://NAME');
  if (input.startsWith('oci:')) {
    const { path, ref } = splitPathRef(input.slice(4), input, 'oci');
    return { transport: 'oci', path, ref };
  }
  if (input.startsWith('oci-archive:')) {
    const { path, ref } = splitPathRef(input.slice('oci-archive:'.length), input, 'oci-archive');
    return { transport: 'oci-archive', path, ref };
  }
  if (input.startsWith('docker-archive:')) {
    const path = input.slice('docker-archive:'.length);
    if (path === '') refuse(input, 'docker-archive: needs a file path');
    // docker-archive:FILE:NAME[:TAG] selects an image by its RepoTags
    const colon = path.indexOf(':');
    if (colon < 0) return { transport: 'docker-archive', path };
    const file = path.slice(0, colon);
    const name = path.slice(colon + 1);
    if (file === '') refuse(input, 'docker-archive: needs a file path before \':\'');
    if (name === '') refuse(input, `the image name after "docker-archive:${file}:" is empty`);
    parseDockerReference(name, input);
    return { transport: 'docker-archive', path: file, name };
  }
  if (input.startsWith('dir:')) {
    const path = input.slice(4);
    if (path === '') refuse(input, 'dir: needs a directory path');
    return { transport: 'dir', path };
  }
  if (isPathLike(input)) return { transport: 'dir', path: input };
  // "foo:bar" is a Hub image with a tag; transports we do not support are
  // refused by name rather than read as an image called e.g. "ostree".
  const scheme = /^([a-z][a-z0-9-]*):/.exec(input)?.[1];
  if (scheme && ['containers-storage', 'docker-daemon', 'ostree', 'sif', 'tarball'].includes(scheme)) {
    refuse(input, `the ${scheme} transport is not supported`);
  }
  return parseDockerReference(input, input);
}

/** The reference as a user would write it again, for messages. */
export function formatImageReference(ref: ImageReference): string {
  switch (ref.transport) {
    case 'docker': return `docker://${ref.canonical}`;
    case 'oci': return `oci:${ref.path}${ref.ref !== null ? `:${ref.ref}` : ''}`;
    case 'oci-archive': return `oci-archive:${ref.path}${ref.ref !== null ? `:${ref.ref}` : ''}`;
    case 'docker-archive': return `docker-archive:${ref.path}${ref.name ? `:${ref.name}` : ''}`;
    case 'dir': return ref.path;
    case 'host': return 'host';
  }
}

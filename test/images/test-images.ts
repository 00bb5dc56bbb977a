// Where the locally built test images are (scripts/build-test-images.sh,
// run by `scripts/setup-host.sh --test-users`), whether they are there (with
// a printed reason to skip), how to read an OCI layout, and how to push one
// of them into a test registry (test/integration/registry/test-registry.ts)
// byte for byte, so the pulled manifest digest is the layout's.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from '../../src/image/registry/credentials.js';
import { RegistryClient } from '../../src/image/registry/registry-client.js';

export const TEST_IMAGES_DIR = process.env.SANDBOX_TEST_IMAGES ?? '/var/cache/rootless-sandbox/test-images';

export type TestImageName = 'busybox' | 'debian' | 'layered';
export const TEST_IMAGE_NAMES: readonly TestImageName[] = ['busybox', 'debian', 'layered'];
/** The tag each layout's index.json names (org.opencontainers.image.ref.name). */
export const TEST_IMAGE_TAGS: Record<TestImageName, string> = { busybox: 'latest', debian: 'bookworm', layered: 'latest' };

/** OCI layout directories, and busybox as written by `podman save`. */
export const testImagePaths = {
  busybox: join(TEST_IMAGES_DIR, 'busybox'),
  debian: join(TEST_IMAGES_DIR, 'debian'),
  layered: join(TEST_IMAGES_DIR, 'layered'),
  busyboxOciArchive: join(TEST_IMAGES_DIR, 'busybox.oci-archive.tar'),
  busyboxDockerArchive: join(TEST_IMAGES_DIR, 'busybox.docker-archive.tar'),
} as const;

const BUILD_HINT = 'build them: sudo bash scripts/build-test-images.sh (or sudo bash scripts/setup-host.sh --test-users)';

/** The first missing or unreadable test image, as a reason to skip; null when all are there. */
export function missingTestImages(): string | null {
  const wanted = [
    ...TEST_IMAGE_NAMES.map((n) => join(testImagePaths[n], 'index.json')),
    testImagePaths.busyboxOciArchive,
    testImagePaths.busyboxDockerArchive,
  ];
  for (const path of wanted) {
    if (!existsSync(path)) return `test images are missing (${path}): ${BUILD_HINT}`;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      return `test image ${path} is not readable by uid ${process.getuid?.()}: ${BUILD_HINT} (it makes them world-readable)`;
    }
  }
  return null;
}

/** true when every test image is there; prints why not otherwise (for describe.skipIf). */
export function haveTestImages(): boolean {
  const reason = missingTestImages();
  if (reason) console.warn(`skipping: ${reason}`);
  return reason === null;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
}

export interface TestImageLayout {
  dir: string;
  index: { schemaVersion: number; manifests: Descriptor[] };
  manifestDescriptor: Descriptor;
  manifestRaw: Buffer;
  manifest: { schemaVersion: number; mediaType: string; config: Descriptor; layers: Descriptor[] };
  configRaw: Buffer;
  config: ImageConfig;
  /** The file holding a blob of this layout. */
  blobPath(digest: string): string;
}

/** Reads an OCI layout with one image (no digest checks: the test does those). */
export function readTestImage(name: TestImageName): TestImageLayout {
  const dir = testImagePaths[name];
  const blobPath = (digest: string) => join(dir, 'blobs', ...digest.split(':'));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as TestImageLayout['index'];
  const manifestDescriptor = index.manifests[0];
  if (!manifestDescriptor) throw new Error(`${dir}/index.json lists no manifest`);
  const manifestRaw = readFileSync(blobPath(manifestDescriptor.digest));
  const manifest = JSON.parse(manifestRaw.toString('utf8')) as TestImageLayout['manifest'];
  const configRaw = readFileSync(blobPath(manifest.config.digest));
  return { dir, index, manifestDescriptor, manifestRaw, manifest, configRaw, config: JSON.parse(configRaw.toString('utf8')) as ImageConfig, blobPath };
}

export interface PushTestImageOptions {
  /** Default `test/<name>`. */
  repository?: string;
  /** Default the layout's tag (TEST_IMAGE_TAGS). */
  tag?: string;
  credentials?: Credentials | null;
  /** Default false: the test registries are plain HTTP or self-signed. */
  tlsVerify?: boolean;
}

/**
 * Pushes a test image's blobs and its manifest, unchanged, to a registry
 * (`registry`: a TestRegistry or "host:port"). Returns the reference to
 * pull and the manifest digest, which equals the layout's.
 */
export async function pushTestImage(registry: { host: string } | string, name: TestImageName,
  options: PushTestImageOptions = {}): Promise<{ ref: string; digest: string }> {
  const host = typeof registry === 'string' ? registry : registry.host;
  const repository = options.repository ?? `test/${name}`;
  const tag = options.tag ?? TEST_IMAGE_TAGS[name];
  const image = readTestImage(name);
  const client = new RegistryClient({
    registry: host,
    tlsVerify: options.tlsVerify ?? false,
    credentials: options.credentials === undefined ? null : options.credentials,
  });
  try {
    for (const blob of [image.manifest.config, ...image.manifest.layers]) {
      await client.pushBlob(repository, readFileSync(image.blobPath(blob.digest)), blob.digest);
    }
    const pushed = await client.pushManifest(repository, tag, image.manifestRaw, image.manifest.mediaType);
    return { ref: `${host}/${repository}:${tag}`, digest: pushed.digest };
  } finally {
    client.close();
  }
}

// Image references: containers/image transports and Docker Hub's rules.
import { describe, expect, it } from 'vitest';
import { SandboxError } from '../../../../src/errors.js';
import { formatImageReference, parseImageReference } from '../../../../src/image/registry/parse-reference.js';

const D = `sha256:${'ab'.repeat(32)}`;

function refusal(input: string): SandboxError {
  try {
    parseImageReference(input);
  } catch (e) {
    expect(e).toBeInstanceOf(SandboxError);
    expect((e as SandboxError).code).toBe('usage');
    expect((e as SandboxError).message).toContain(`"${input}"`);
    return e as SandboxError;
  }
  throw new Error(`"${input}" was accepted`);
}

describe('parseImageReference: registry references', () => {
  it('applies Docker Hub rules to bare names: docker.io, library/, latest', () => {
    expect(parseImageReference('alpine')).toEqual({
      transport: 'docker', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', digest: null,
      canonical: 'docker.io/library/alpine:latest',
    });
    expect(parseImageReference('alpine:3.20')).toMatchObject({ registry: 'docker.io', repository: 'library/alpine', tag: '3.20' });
    expect(parseImageReference('bitnami/redis:7')).toMatchObject({ registry: 'docker.io', repository: 'bitnami/redis', tag: '7' });
    expect(parseImageReference('docker.io/alpine')).toMatchObject({ registry: 'docker.io', repository: 'library/alpine', tag: 'latest' });
    expect(parseImageReference('docker.io/library/alpine:edge')).toHaveProperty('canonical', 'docker.io/library/alpine:edge');
    expect(parseImageReference('index.docker.io/alpine')).toMatchObject({ registry: 'docker.io', repository: 'library/alpine' });
  });

  it('takes the first component as a registry host when it has a dot, a port or is localhost', () => {
    expect(parseImageReference('registry:5000/x')).toMatchObject({ registry: 'registry:5000', repository: 'x', tag: 'latest' });
    expect(parseImageReference('quay.io/podman/stable:v5')).toMatchObject({ registry: 'quay.io', repository: 'podman/stable', tag: 'v5' });
    expect(parseImageReference('localhost/app')).toMatchObject({ registry: 'localhost', repository: 'app', tag: 'latest' });
    expect(parseImageReference('localhost:5000/a/b/c:1')).toMatchObject({ registry: 'localhost:5000', repository: 'a/b/c', tag: '1' });
    expect(parseImageReference('127.0.0.1:5000/test/img:v1')).toMatchObject({ registry: '127.0.0.1:5000', repository: 'test/img' });
    // a single-component registry name is not a host: it is a Hub user
    expect(parseImageReference('myregistry/app')).toMatchObject({ registry: 'docker.io', repository: 'myregistry/app' });
    // without a slash there is no registry: "localhost:5000" is Hub's library/localhost, tag 5000
    expect(parseImageReference('localhost:5000')).toMatchObject({ registry: 'docker.io', repository: 'library/localhost', tag: '5000' });
  });

  it('reads digests, with or without a tag, and docker:// the same as bare', () => {
    expect(parseImageReference(`alpine@${D}`)).toMatchObject({ repository: 'library/alpine', tag: null, digest: D, canonical: `docker.io/library/alpine@${D}` });
    expect(parseImageReference(`quay.io/a/b:1.0@${D}`)).toMatchObject({ registry: 'quay.io', tag: '1.0', digest: D });
    expect(parseImageReference(`docker://registry:5000/x@${D}`)).toMatchObject({ registry: 'registry:5000', repository: 'x', digest: D });
    expect(parseImageReference('docker://alpine:3.20')).toEqual(parseImageReference('alpine:3.20'));
    expect(formatImageReference(parseImageReference('alpine'))).toBe('docker://docker.io/library/alpine:latest');
  });

  it('refuses malformed names with the reference and what is wrong', () => {
    expect(refusal('Alpine').message).toMatch(/must be lower-case/);
    expect(refusal('alpine:').message).toMatch(/"" is not a valid tag/);
    expect(refusal('alpine:-x').message).toMatch(/not a valid tag/);
    expect(refusal(`alpine:${'t'.repeat(129)}`).message).toMatch(/not a valid tag/);
    expect(refusal('alpine@sha256:1234').message).toMatch(/not a sha256 digest/);
    expect(refusal('alpine@md5:abcd').message).toMatch(/not a sha256 digest/);
    expect(refusal('a//b').message).toMatch(/empty path component/);
    expect(refusal('foo/-bar').message).toMatch(/"-bar" is not a valid repository path component/);
    expect(refusal('docker://').message).toMatch(/docker:\/\/ needs an image name/);
    expect(refusal('docker:alpine').message).toMatch(/written docker:\/\/NAME/);
    expect(refusal('').message).toMatch(/empty/);
    expect(refusal('al pine').message).toMatch(/white space/);
    expect(refusal('bad_host.io:x/y').message).toMatch(/registry host/);
    expect(refusal('containers-storage:alpine').message).toMatch(/containers-storage transport is not supported/);
    expect(refusal('Alpine').hint).toMatch(/docker:\/\/\[REGISTRY\/\]NAME/);
  });
});

describe('parseImageReference: local transports and host', () => {
  it('reads oci:DIR[:REF] and oci-archive:FILE[:REF]', () => {
    expect(parseImageReference('oci:/var/images/alpine')).toEqual({ transport: 'oci', path: '/var/images/alpine', ref: null });
    expect(parseImageReference('oci:./layout:v1')).toEqual({ transport: 'oci', path: './layout', ref: 'v1' });
    expect(parseImageReference('oci-archive:/tmp/a.tar')).toEqual({ transport: 'oci-archive', path: '/tmp/a.tar', ref: null });
    expect(parseImageReference('oci-archive:a.tar:latest')).toEqual({ transport: 'oci-archive', path: 'a.tar', ref: 'latest' });
    expect(refusal('oci:').message).toMatch(/needs a path/);
    expect(refusal('oci::ref').message).toMatch(/needs a path/);
    expect(refusal('oci:/x:').message).toMatch(/empty/);
    expect(formatImageReference(parseImageReference('oci:/d:v1'))).toBe('oci:/d:v1');
  });

  it('reads docker-archive:FILE, directories and host', () => {
    expect(parseImageReference('docker-archive:/tmp/img.tar')).toEqual({ transport: 'docker-archive', path: '/tmp/img.tar' });
    expect(refusal('docker-archive:').message).toMatch(/needs a file path/);
    // docker-archive:FILE:NAME[:TAG] picks one image of the archive by its RepoTags
    expect(parseImageReference('docker-archive:/tmp/img.tar:alpine:3')).toEqual({ transport: 'docker-archive', path: '/tmp/img.tar', name: 'alpine:3' });
    expect(formatImageReference(parseImageReference('docker-archive:/tmp/img.tar:localhost/x'))).toBe('docker-archive:/tmp/img.tar:localhost/x');
    expect(refusal('docker-archive:/tmp/img.tar:').message).toMatch(/name after .* is empty/);
    expect(refusal('docker-archive:/tmp/img.tar:Bad Name').message).toMatch(/white space/);
    expect(parseImageReference('/srv/rootfs')).toEqual({ transport: 'dir', path: '/srv/rootfs' });
    expect(parseImageReference('./rootfs')).toEqual({ transport: 'dir', path: './rootfs' });
    expect(parseImageReference('../r')).toEqual({ transport: 'dir', path: '../r' });
    expect(parseImageReference('dir:/srv/x')).toEqual({ transport: 'dir', path: '/srv/x' });
    expect(parseImageReference('host')).toEqual({ transport: 'host' });
    // "host:1" is an image on Docker Hub, not the host image
    expect(parseImageReference('host:1')).toMatchObject({ transport: 'docker', repository: 'library/host' });
  });
});

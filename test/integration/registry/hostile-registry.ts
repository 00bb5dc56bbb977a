// A hostile registry for the pull tests: a tiny HTTP server on 127.0.0.1
// that speaks just enough of the distribution API (GET /v2/, manifests by
// tag or digest, blobs) to serve whatever manifest a test hands it, and
// blobs that are bytes or endless. It counts the bytes it sent per blob, so
// a test can tell what a client fetched.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

export const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A blob that never ends (its digest can be anything); the server gives up after `stopAfter` bytes. */
export interface EndlessBlob {
  readonly endless: true;
  readonly stopAfter: number;
}

export interface HostileRegistry {
  /** host:port, for references: 127.0.0.1:PORT/repo:tag */
  readonly host: string;
  /** Serves `manifest` (JSON or raw bytes) under repo:tag and repo@digest; returns its digest. */
  manifest(repo: string, tag: string, manifest: object | Buffer, mediaType?: string): string;
  blob(digest: string, content: Buffer | EndlessBlob): void;
  /** Bytes of the blob sent so far (0: never asked for). */
  sent(digest: string): number;
  close(): Promise<void>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const manifests = new Map<string, { raw: Buffer; mediaType: string }>();
  const blobs = new Map<string, Buffer | EndlessBlob>();
  const sent = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/v2/' || path === '/v2') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const notFound = () => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'not here' }] }));
    if (!m) { notFound(); return; }
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const found = manifests.get(`${repo}:${ref}`) ?? manifests.get(`${repo}@${ref}`);
      if (!found) { notFound(); return; }
      res.writeHead(200, { 'content-type': found.mediaType, 'content-length': String(found.raw.length) });
      res.end(req.method === 'HEAD' ? undefined : found.raw);
      return;
    }
    const blob = blobs.get(ref);
    if (!blob) { notFound(); return; }
    const count = (n: number) => sent.set(ref, (sent.get(ref) ?? 0) + n);
    if (Buffer.isBuffer(blob)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
      count(blob.length);
      res.end(blob);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no length to hold the client to
    const chunk = Buffer.alloc(1 << 20);
    const pump = () => {
      while ((sent.get(ref) ?? 0) < blob.stopAfter) {
        count(chunk.length);
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.destroy(); // a bound for the test, not for the client: it must have stopped long before
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    host,
    manifest(repo, tag, manifest, mediaType = OCI_MANIFEST) {
      const raw = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
      const digest = sha(raw);
      manifests.set(`${repo}:${tag}`, { raw, mediaType });
      manifests.set(`${repo}@${digest}`, { raw, mediaType });
      return digest;
    },
    blob(digest, content) { blobs.set(digest, content); },
    sent: (digest) => sent.get(digest) ?? 0,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

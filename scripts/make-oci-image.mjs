// Writes an OCI image layout (oci-layout, index.json, blobs/sha256) from a
// JSON spec, exactly: every blob is named by the sha256 of its bytes, each
// layer is gzip-compressed and its diff_id is the sha256 of the tar before
// compression. Used by scripts/build-test-images.sh; knows nothing about
// which images the tests want (scripts/test-image-specs.mjs says that).
//
//   node scripts/make-oci-image.mjs SPEC.json
//
// Spec:
//   out            the layout directory (replaced as a whole: built next to it, then renamed)
//   ref            the tag in index.json (org.opencontainers.image.ref.name), e.g. "latest"
//   created        RFC 3339 time for the config and history (fixed: same spec, same digests)
//   architecture, os
//   config         the image config's "config" object (Env, Entrypoint, Cmd, WorkingDir, User, Labels...)
//   gzipLevel      optional, 1-9 (default 6)
//   layers         each exactly one of:
//                    { "tar": FILE }       an existing tar file, taken byte for byte
//                    { "dir": DIR }        a directory tree (owners, modes, mtimes, symlinks, hardlinks)
//                    { "entries": [...] }  entries: { name, type: file|directory|symlink|link,
//                                          content (text) or source (a file to copy), linkname,
//                                          mode, uid, gid, mtime (seconds) }
//                  and an optional "comment" for the history.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** A pass-through that hashes and counts what goes through it. */
function hashing() {
  const h = createHash('sha256');
  const t = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk, _enc, cb) {
      h.update(chunk);
      t.size += chunk.length;
      cb(null, chunk);
    },
  });
  t.size = 0;
  t.digest = () => h.digest('hex');
  return t;
}

/** Writes a blob from memory; returns its descriptor. */
function writeBlob(layout, mediaType, data) {
  const hex = sha256(data);
  writeFileSync(join(layout, 'blobs/sha256', hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

// The tar writer is here, not tar-stream: setup-host.sh builds the images
// before `npm ci` has run, so this script uses node: modules only.
const TYPEFLAG = { file: '0', link: '1', symlink: '2', directory: '5', pax: 'x' };
const MAX_OCTAL_8 = 0o7777777;

/** A pax extended header ('x') carrying the fields ustar cannot hold. */
function paxRecords(fields) {
  let body = '';
  for (const [key, value] of Object.entries(fields)) {
    const rest = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
    body += `${len}${rest}`;
  }
  return Buffer.from(body);
}

function ustarHeader(h) {
  const b = Buffer.alloc(512);
  const str = (off, len, v) => b.write(v, off, len, 'utf8');
  const oct = (off, len, v) => str(off, len, v.toString(8).padStart(len - 1, '0'));
  str(0, 100, h.name);
  oct(100, 8, h.mode);
  oct(108, 8, h.uid);
  oct(116, 8, h.gid);
  oct(124, 12, h.size);
  oct(136, 12, h.mtime);
  b.fill(' ', 148, 156);
  str(156, 1, h.typeflag);
  str(157, 100, h.linkname ?? '');
  str(257, 8, 'ustar\x0000');
  str(345, 155, h.prefix ?? '');
  let sum = 0;
  for (const byte of b) sum += byte;
  str(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}

const padding = (size) => Buffer.alloc((512 - (size % 512)) % 512);

/** The header block(s) of one entry: ustar, preceded by a pax header when a field does not fit. */
function headerBlocks(e) {
  const pax = {};
  let name = e.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut > 0 && Buffer.byteLength(name.slice(0, cut)) <= 155 && Buffer.byteLength(name.slice(cut + 1)) <= 100) {
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    } else {
      pax.path = e.name;
      name = name.slice(0, 100);
    }
  }
  let linkname = e.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100) {
    pax.linkpath = linkname;
    linkname = '';
  }
  for (const id of ['uid', 'gid']) {
    if (e[id] > MAX_OCTAL_8) pax[id] = String(e[id]);
  }
  const main = ustarHeader({ ...e, name, prefix, linkname, uid: Math.min(e.uid, MAX_OCTAL_8), gid: Math.min(e.gid, MAX_OCTAL_8) });
  if (Object.keys(pax).length === 0) return [main];
  const records = paxRecords(pax);
  const paxName = `PaxHeaders/${e.name.split('/').pop()}`.slice(0, 100);
  return [ustarHeader({ name: paxName, mode: 0o644, uid: 0, gid: 0, size: records.length, mtime: e.mtime, typeflag: TYPEFLAG.pax }), records, padding(records.length), main];
}

/** One entry as tar blocks; `data` is a Buffer or a file path to stream. */
async function* tarEntry(e, data) {
  yield* headerBlocks({ ...e, typeflag: TYPEFLAG[e.type], size: e.size ?? 0 });
  if (typeof data === 'string') {
    let n = 0;
    for await (const chunk of createReadStream(data, { highWaterMark: 1 << 20 })) {
      n += chunk.length;
      yield chunk;
    }
    if (n !== e.size) throw new Error(`${data} changed size while it was read (${e.size} -> ${n} bytes)`);
  } else if (data) yield data;
  if (e.size) yield padding(e.size);
}

const END_OF_ARCHIVE = Buffer.alloc(1024);

/** The entries of `spec.entries`, in the order given. */
async function* entriesTar(entries) {
  for (const e of entries) {
    if (!(e.type in TYPEFLAG) || e.type === 'pax') throw new Error(`entry ${e.name}: type must be file, directory, symlink or link, not ${e.type}`);
    const header = {
      name: e.type === 'directory' && !e.name.endsWith('/') ? `${e.name}/` : e.name,
      type: e.type,
      mode: e.mode ?? (e.type === 'directory' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? 0,
      linkname: e.linkname,
    };
    const data = e.type === 'file' ? (e.source !== undefined ? readFileSync(e.source) : Buffer.from(e.content ?? '')) : null;
    yield* tarEntry({ ...header, size: data?.length ?? 0 }, data);
  }
  yield END_OF_ARCHIVE;
}

/** A directory tree, sorted by name, with owners, modes and mtimes; multiply linked files as hardlinks. */
async function* dirTar(root) {
  const seen = new Map(); // "dev:ino" -> the first name of a file with nlink > 1
  async function* walk(rel) {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const path = join(root, r);
      const st = lstatSync(path);
      const base = { name: r, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isDirectory()) {
        yield* tarEntry({ ...base, name: `${r}/`, type: 'directory' });
        yield* walk(r);
      } else if (st.isSymbolicLink()) {
        yield* tarEntry({ ...base, type: 'symlink', linkname: readlinkSync(path) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && seen.has(key)) {
          yield* tarEntry({ ...base, type: 'link', linkname: seen.get(key) });
        } else {
          if (st.nlink > 1) seen.set(key, r);
          yield* tarEntry({ ...base, type: 'file', size: st.size }, path);
        }
      } else {
        throw new Error(`${path}: only directories, regular files and symlinks go into a layer`);
      }
    }
  }
  yield* walk('');
  yield END_OF_ARCHIVE;
}

/** The uncompressed tar of one layer, as a stream. */
function layerTar(layer) {
  const kinds = ['tar', 'dir', 'entries'].filter((k) => layer[k] !== undefined);
  if (kinds.length !== 1) throw new Error(`a layer needs exactly one of tar, dir, entries (got ${kinds.join(', ') || 'none'})`);
  if (layer.tar !== undefined) return createReadStream(layer.tar, { highWaterMark: 1 << 20 });
  return Readable.from(layer.dir !== undefined ? dirTar(layer.dir) : entriesTar(layer.entries), { objectMode: false });
}

/** Streams one layer: tar -> (diff_id hash) -> gzip -> (digest hash) -> blob file. */
async function writeLayer(layout, layer, level) {
  const tmp = join(layout, 'blobs/sha256', `.layer-${process.pid}`);
  const diff = hashing();
  const blob = hashing();
  await pipeline(layerTar(layer), diff, createGzip({ level, chunkSize: 1 << 20 }), blob, createWriteStream(tmp));
  const hex = blob.digest();
  renameSync(tmp, join(layout, 'blobs/sha256', hex));
  return { descriptor: { mediaType: MEDIA.layer, digest: `sha256:${hex}`, size: blob.size }, diffId: `sha256:${diff.digest()}` };
}

export async function makeOciImage(spec) {
  for (const key of ['out', 'ref', 'created', 'architecture', 'os', 'config', 'layers']) {
    if (spec[key] === undefined) throw new Error(`spec: "${key}" is missing`);
  }
  const tmp = `${spec.out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'blobs/sha256'), { recursive: true });
  try {
    const layers = [];
    for (const layer of spec.layers) layers.push(await writeLayer(tmp, layer, spec.gzipLevel ?? 6));
    const config = {
      created: spec.created,
      architecture: spec.architecture,
      os: spec.os,
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: spec.layers.map((l) => ({ created: spec.created, created_by: `make-oci-image: ${l.comment ?? (l.tar ? `tar ${l.tar}` : l.dir ? `dir ${l.dir}` : 'entries')}` })),
    };
    const configDesc = writeBlob(tmp, MEDIA.config, Buffer.from(JSON.stringify(config)));
    const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: configDesc, layers: layers.map((l) => l.descriptor) };
    const manifestDesc = writeBlob(tmp, MEDIA.manifest, Buffer.from(JSON.stringify(manifest)));
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': spec.ref }, platform: { architecture: spec.architecture, os: spec.os } }],
    };
    writeFileSync(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(tmp, 'index.json'), JSON.stringify(index));
    mkdirSync(dirname(spec.out), { recursive: true });
    rmSync(spec.out, { recursive: true, force: true });
    renameSync(tmp, spec.out);
    return { manifest: manifestDesc.digest, layers: layers.map((l) => l.descriptor.digest) };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.length !== 3) {
    console.error('usage: node scripts/make-oci-image.mjs SPEC.json');
    process.exit(2);
  }
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const t0 = Date.now();
  const r = await makeOciImage(spec);
  console.log(`make-oci-image: ${spec.out}:${spec.ref} ${r.manifest} (${r.layers.length} layer(s), ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

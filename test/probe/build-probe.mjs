// Compiles test/probe/probe.c once per content into
// /tmp/rootless-sandbox-probe-<sha256[0:12]>-u<uid>/probe (dir and binary mode 0755), so an
// unprivileged user and any uid inside a sandbox can run it. Static when the C
// library allows it, so it runs in any image; dynamic otherwise.
//
//   import { buildProbe } from './build-probe.mjs'; const probe = await buildProbe();
//   node test/probe/build-probe.mjs      # builds and prints the path
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = join(dirname(fileURLToPath(import.meta.url)), 'probe.c');
const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-pthread'];

/** @returns {Promise<{ ok: boolean, stderr: string }>} */
function compile(cc, args) {
  return new Promise((resolve) => {
    execFile(cc[0], [...cc.slice(1), ...args], { encoding: 'utf8' }, (err, _stdout, stderr) => {
      resolve({ ok: !err, stderr: stderr || (err ? String(err.message) : '') });
    });
  });
}

// The directory name is predictable and /tmp is shared: refuse to use one that
// someone else could have planted a binary in.
async function checkTrusted(path) {
  const st = await lstat(path);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() && !st.isFile()) throw new Error(`${path}: not a regular file or directory`);
  if (st.uid !== uid && st.uid !== 0) throw new Error(`${path}: owned by uid ${st.uid}, not by us or root`);
  if (st.mode & 0o022) throw new Error(`${path}: writable by group or others`);
}

async function exists(path) {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (e.code === 'ENOENT') return false;
    throw e;
  }
}

/** Builds the probe if needed and returns the path of the binary. */
export async function buildProbe() {
  const text = await readFile(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  // one directory per builder: a directory another user made is not trusted
  const dir = `/tmp/rootless-sandbox-probe-${hash}-u${process.getuid?.() ?? 0}`;
  const binary = join(dir, 'probe');

  await mkdir(dir, { mode: 0o755, recursive: true });
  await checkTrusted(dir);
  await chmod(dir, 0o755); // mkdir's mode is filtered by the umask
  if (await exists(binary)) {
    await checkTrusted(binary);
    return binary;
  }

  // Compile to a private name and rename: concurrent builders never see a
  // half-written binary, and the last rename wins with identical content.
  const tmp = join(dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  const cc = (process.env.CC || 'cc').trim().split(/\s+/);
  try {
    let result = await compile(cc, [...flags, '-static', '-o', tmp, source]);
    if (!result.ok) {
      const staticErr = result.stderr;
      result = await compile(cc, [...flags, '-o', tmp, source]); // no static libc here
      if (!result.ok) {
        throw new Error(`cannot compile ${source} with ${cc.join(' ')}:\n${result.stderr}` +
          `\n(static attempt:\n${staticErr})`);
      }
    }
    await chmod(tmp, 0o755);
    await rename(tmp, binary);
  } finally {
    await rm(tmp, { force: true });
  }
  return binary;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildProbe().then(
    (path) => console.log(path),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}

// Loads a CommonJS bundle (the CLI) through a V8 code cache, so a run does
// not compile the bundle again: the cache is written after a run that had
// none (it then holds the functions that run compiled lazily too) and used
// by the next. It lives in the caller's cache directory
// ($XDG_CACHE_HOME/rootless-sandbox/v8, private), is named after the Node
// version and the bundle's identity (device, inode, size, mtime), and is
// trusted only when it is a regular file of the caller that no one else may
// write, opened without following links; V8 itself rejects data of another
// V8 version or flags. Anything wrong: the bundle is compiled as without a
// cache. Plain JavaScript: it runs before the bundle exists in memory.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

/** The cache directory of the caller: $XDG_CACHE_HOME, else ~/.cache. */
function cacheDir(env = process.env) {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'rootless-sandbox', 'v8');
}

/** The cache file of this bundle for this Node: another bundle or another Node never reads it. */
function cacheFile(bundle, st, dir = cacheDir()) {
  const id = [process.version, process.arch, st.dev, st.ino, st.size, Math.floor(st.mtimeMs)].join('-');
  return path.join(dir, `${path.basename(bundle)}-${id}.bin`);
}

/** The cached data, or undefined when there is none or it is not the caller's own. */
function readTrusted(file, uid = process.getuid()) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o022) !== 0 || st.size === 0 || st.size > 64 * 1024 * 1024) return undefined;
    return fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes the cache privately and atomically; a failure only costs the next run its speed. */
function writePrivate(file, data) {
  const dir = path.dirname(file);
  try {
    // never create directories in someone else's home (root with another user's $HOME)
    let existing = dir;
    while (!fs.existsSync(existing)) existing = path.dirname(existing);
    if (fs.statSync(existing).uid !== process.getuid()) return false;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o022) !== 0) return false;
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
    // older caches of this bundle (another build, another Node) are of no use
    for (const name of fs.readdirSync(dir)) {
      if (name !== path.basename(file) && name.startsWith(`${path.basename(file).split('-')[0]}-`) && name.endsWith('.bin')) fs.rmSync(path.join(dir, name), { force: true });
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The bundle's text. esbuild writes it as ASCII (non-ASCII characters
 * escaped), which latin1 decodes to the same string ~3x faster than UTF-8
 * does (~5 ms of every start for the CLI on a slow machine); anything else
 * is decoded as UTF-8.
 */
function readSource(bundle) {
  const bytes = fs.readFileSync(bundle);
  return require('node:buffer').isAscii(bytes) ? bytes.latin1Slice(0, bytes.length) : bytes.toString('utf8');
}

/**
 * Compiles `bundle` (with the code cache when a trusted one fits) and runs it
 * as the main module. Returns what happened to the cache, for tests.
 */
function loadWithCache(bundle, options = {}) {
  const st = fs.statSync(bundle);
  const file = cacheFile(bundle, st, options.dir);
  const cached = options.disabled ? undefined : readTrusted(file);
  const source = readSource(bundle);
  const script = new vm.Script(Module.wrap(source), {
    filename: bundle,
    ...(cached && { cachedData: cached }),
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const used = Boolean(cached) && !script.cachedDataRejected;
  if (!used && !options.disabled) {
    // after the run: the data then holds the functions that ran, compiled
    process.once('exit', () => writePrivate(file, script.createCachedData()));
  }
  const mod = new Module(bundle, null);
  mod.filename = bundle;
  mod.paths = Module._nodeModulePaths(path.dirname(bundle));
  mod.loaded = true;
  require.cache[bundle] = mod;
  process.mainModule = mod;
  const run = script.runInThisContext();
  run.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
  return { file, used, rejected: Boolean(cached) && script.cachedDataRejected };
}

module.exports = { loadWithCache, cacheFile, cacheDir, readTrusted, writePrivate, readSource };

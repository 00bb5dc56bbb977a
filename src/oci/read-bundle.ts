// Reads an OCI bundle: BUNDLE/config.json (a regular file, not a symlink,
// at most CONFIG_MAX_BYTES, valid against config-schema.ts) and the root
// file system it names (root.path relative to the bundle, a directory that
// is the bundle or inside it, symlinks resolved before that check).
// Must not: interpret the config beyond its shape (config-to-run.ts does).
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { describeSchemaError } from '../config/load-json-config.js';
import { SandboxError } from '../errors.js';
import validateOciConfig from './generated/validate-oci-config.js';
import type { OciConfig } from './oci-config.js';

/** Real configs are a few KiB (podman's, with its seccomp policy, ~40 KiB). */
export const CONFIG_MAX_BYTES = 4 * 1024 * 1024;
export const CONFIG_NAME = 'config.json';

export interface OciBundle {
  /** Canonical bundle directory. */
  readonly dir: string;
  readonly configFile: string;
  readonly text: string;
  readonly config: OciConfig;
  /** Canonical root directory (root.path resolved). */
  readonly rootPath: string;
}

/** Parses and validates config.json text; errors name `config.json#/pointer`. */
export function parseOciConfig(text: string): OciConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SandboxError('config', `${CONFIG_NAME} is not valid JSON: ${(e as Error).message}`, 'fix the syntax (`python3 -m json.tool config.json` shows where)');
  }
  if (!validateOciConfig(data)) {
    const problems = (validateOciConfig.errors ?? []).map((e) => `${CONFIG_NAME}#${describeSchemaError(e)}`);
    throw new SandboxError('config', `${CONFIG_NAME} is invalid: ${problems.join('; ')}`,
      'fix the fields named above; `sandbox-oci features` lists what is supported, `sandbox-oci spec` writes a valid config');
  }
  return data as OciConfig;
}

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

function readConfigText(file: string): string {
  let fd: number;
  try {
    // O_NOFOLLOW: config.json itself may not be a symlink; O_NONBLOCK: a FIFO must not hang us
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = errno(e);
    if (code === 'ELOOP') throw new SandboxError('config', `${file} is a symlink`, 'make config.json a regular file in the bundle');
    if (code === 'ENOENT') throw new SandboxError('config', `${file} does not exist`, 'a bundle is a directory with config.json; `sandbox-oci spec` writes one');
    throw new SandboxError('config', `cannot open ${file}: ${code}`, 'check the bundle path and its permissions');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SandboxError('config', `${file} is not a regular file`, 'make config.json a regular file in the bundle');
    if (st.size > CONFIG_MAX_BYTES) {
      throw new SandboxError('config', `${file} is ${st.size} bytes, more than ${CONFIG_MAX_BYTES}`, 'a config.json is a few KiB: check that this is the right file');
    }
    // read one byte past the cap: the file may grow after fstat
    const buf = Buffer.alloc(CONFIG_MAX_BYTES + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += got;
    if (n > CONFIG_MAX_BYTES) throw new SandboxError('config', `${file} grew past ${CONFIG_MAX_BYTES} bytes while it was read`, 'do not change the bundle while it runs');
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * root.path: a relative path names a directory in the bundle ('.', 'rootfs'),
 * never outside it; an absolute one may be anywhere, as with runc (podman,
 * CRI-O and containerd point it into their own storage).
 */
export function resolveRootPath(bundleDir: string, rootPath: string): string {
  const where = `${CONFIG_NAME}#/root/path`;
  let real: string;
  try {
    real = realpathSync(resolve(bundleDir, rootPath));
  } catch (e) {
    throw new SandboxError('config', `${where}: root file system "${rootPath}" cannot be reached: ${errno(e)}`, 'point root.path at the root directory of the bundle (e.g. "rootfs")');
  }
  if (!isAbsolute(rootPath) && real !== bundleDir && !real.startsWith(bundleDir + sep)) {
    throw new SandboxError('config', `${where}: root file system "${rootPath}" (${real}) is outside the bundle ${bundleDir}`,
      'put the root file system in the bundle directory (or use "." for the bundle itself)');
  }
  if (!statSync(real).isDirectory()) throw new SandboxError('config', `${where}: "${rootPath}" is not a directory`, 'point root.path at a directory');
  return real;
}

export function readBundle(bundle: string): OciBundle {
  let dir: string;
  try {
    dir = realpathSync(bundle);
  } catch (e) {
    throw new SandboxError('usage', `bundle ${bundle} cannot be reached: ${errno(e)}`, 'give the bundle directory (--bundle), which holds config.json');
  }
  if (!statSync(dir).isDirectory()) throw new SandboxError('usage', `bundle ${bundle} is not a directory`, 'give the bundle directory (--bundle), which holds config.json');
  const configFile = resolve(dir, CONFIG_NAME);
  const text = readConfigText(configFile);
  const config = parseOciConfig(text);
  if (!config.root) throw new SandboxError('config', `${CONFIG_NAME}#/root: missing`, 'give "root": {"path": "rootfs"}');
  return { dir, configFile, text, config, rootPath: resolveRootPath(dir, config.root.path) };
}

// resolve/: the only place where defaults are applied. Options + profile +
// host facts in, a frozen RunSpec out. Pure: every fact about the host comes
// in as data (HostFacts, HostImageLayout, inspectPath), so it is unit-testable.
// Must not: touch the file system or start anything.
import { posix } from 'node:path';
import type { LoadedProfile, ProfileTmpfs, ProfileVolume } from '../config/profile.js';
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import { planIdMap, type UidSlotRange } from '../idmap/plan-idmap.js';
import type { HostImageLayout } from '../rootfs/host-image.js';
import type { ExecOptions } from './exec-options.js';
import { resolveNetwork } from '../network/resolve-network.js';
import { resolveLimits } from './resolve-limits.js';
import { mergeCapabilities, PODMAN_DEFAULT_CAPS, type Capability } from './capabilities.js';
import { parseEnvArg, parseEnvFile, parseOctal, parseSize, parseTmpfs, parseUser, parseVolume } from './parse-options.js';
import type { ChownAfterRun, RunSpec, TmpfsSpec, VolumeSpec } from './run-spec.js';
import { isReservedTarget, rejectNul, validateRunSpec } from './validate-run-spec.js';
import { imageArgv, imageEnv, resolveImageUser, type ImageUser, type ResolvedImage } from './image-defaults.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_HOSTNAME = 'sandbox';
const DEFAULT_ROOT_SIZE = '64m';
const DEFAULT_TMPFS_SIZE = '64m';
/** A hostname the sandbox accepts (also checked by the OCI translator, to name its pointer). */
export const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/;

/** What the resolver may know about a host path (canonical path and kind). */
/** null: the path does not exist (ENOENT, ENOTDIR); `error`: it could not be looked at (EACCES, ELOOP...). */
export type InspectPath = (path: string) => { real: string; kind: 'dir' | 'file' | 'other' } | { error: string } | null;

export interface ResolveInput {
  readonly options: ExecOptions;
  readonly profile: LoadedProfile;
  readonly host: HostFacts;
  readonly layout: HostImageLayout;
  /** The caller's environment, for `-e KEY` without a value. */
  readonly callerEnv: NodeJS.ProcessEnv;
  /** Contents of --env-file files, read by the caller. */
  readonly envFiles: readonly { readonly file: string; readonly text: string }[];
  readonly inspectPath: InspectPath;
  /** The host's /etc/resolv.conf (for the network modes), read by the caller; absent: none. */
  readonly hostResolvConf?: string | null;
  /** The image when it is not `host`, resolved to unpacked layers by the caller. */
  readonly image?: ResolvedImage;
  /**
   * The uid slot the run holds (acquired for the user resolveRunUser names): its id map maps only that part
   * of the range. null: the range cannot be divided (shared, noted). Absent: a plan only, the whole range.
   */
  readonly slot?: UidSlotRange | null;
}

function normalizeTarget(path: string, where: string): string {
  const p = posix.normalize(path).replace(/(.)\/+$/, '$1');
  if (!p.startsWith('/')) throw new SandboxError('usage', `"${path}" (${where}) is not an absolute path`, 'write it from /');
  if (isReservedTarget(p)) {
    throw new SandboxError('usage', `cannot mount over ${p} (${where})`, 'the sandbox provides /, /proc and /dev itself; choose another path');
  }
  return p;
}

function resolveTmpfs(t: ProfileTmpfs, where: string): TmpfsSpec {
  return {
    path: normalizeTarget(t.path, where),
    sizeBytes: parseSize(t.size ?? DEFAULT_TMPFS_SIZE, where),
    mode: parseOctal(t.mode ?? '1777'),
    owner: t.owner ?? 'root',
  };
}

function resolveVolume(v: ProfileVolume, where: string, inspect: InspectPath): VolumeSpec {
  const found = inspect(v.source);
  if (!found) {
    throw new SandboxError('usage', `volume source ${v.source} does not exist (${where})`, 'create it first, or fix the path');
  }
  if ('error' in found) {
    throw new SandboxError('usage', `volume source ${v.source} cannot be reached (${where}): ${found.error}${found.error === 'EACCES' ? ' (permission denied: you may not search a directory on its path)' : ''}`,
      found.error === 'EACCES' ? 'the sandbox binds it as you: give your user search (x) permission on each directory of the path, or bind a path you can reach' : 'fix the path');
  }
  if (found.kind === 'other') {
    throw new SandboxError('usage', `volume source ${v.source} is not a file or directory (${where})`, 'bind only regular files and directories');
  }
  return { source: found.real, target: normalizeTarget(v.target, where), writable: v.writable ?? false, noexec: v.noexec ?? false, kind: found.kind };
}

/** The writable directory volume at the target, whose tree goes back to an owner after the run. */
function resolveChownAfterRun(want: ExecOptions['chownAfterRun'], volumes: readonly VolumeSpec[]): ChownAfterRun | null {
  if (!want) return null;
  const v = volumes.find((x) => x.target === want.target);
  if (!v || !v.writable || v.kind !== 'dir') {
    throw new SandboxError('usage', `chownAfterRun names ${want.target}, which is not a writable directory volume`, 'give the target of a writable -v DIR:TARGET:rw');
  }
  for (const [what, id] of [['uid', want.uid], ['gid', want.gid]] as const) {
    if (!Number.isSafeInteger(id) || id < 0) throw new SandboxError('usage', `chownAfterRun ${what} ${id} is not an id`, 'give a whole number');
  }
  return { source: v.source, uid: want.uid, gid: want.gid, workloadFirst: want.workloadFirst ?? false };
}

type Mount = { kind: 'tmpfs'; spec: TmpfsSpec } | { kind: 'volume'; spec: VolumeSpec };
const targetOf = (m: Mount) => (m.kind === 'tmpfs' ? m.spec.path : m.spec.target);

/** One mount per target; a flag replaces the profile's mount on the same target. */
function mergeMounts(fromProfile: Mount[], fromFlags: Mount[]): Mount[] {
  const unique = (layer: Mount[], where: string) => {
    const seen = new Set<string>();
    for (const m of layer) {
      if (seen.has(targetOf(m))) throw new SandboxError('usage', `two mounts on ${targetOf(m)} (${where})`, 'give each volume and tmpfs its own target');
      seen.add(targetOf(m));
    }
    return seen;
  };
  unique(fromProfile, 'profile');
  const flagged = unique(fromFlags, 'flags');
  return [...fromProfile.filter((m) => !flagged.has(targetOf(m))), ...fromFlags];
}

function resolveEnv(input: ResolveInput, base: Record<string, string>): string[] {
  const env = new Map<string, string>(Object.entries(base));
  for (const [k, v] of Object.entries(input.profile.profile.env ?? {})) env.set(k, v);
  for (const { file, text } of input.envFiles) {
    for (const [k, v] of parseEnvFile(text, file, input.callerEnv)) env.set(k, v);
  }
  const extra = input.options.env;
  if (Array.isArray(extra)) {
    for (const arg of extra as readonly string[]) {
      const pair = parseEnvArg(arg, input.callerEnv);
      if (pair) env.set(pair[0], pair[1]);
    }
  } else if (extra) {
    for (const [k, v] of Object.entries(extra)) {
      if (!/^[^=\0\s]+$/.test(k)) throw new SandboxError('usage', `invalid environment variable name "${k}" (env)`, 'names may not contain "=", spaces or NUL');
      env.set(k, v);
    }
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

export function resolveRunSpec(input: ResolveInput): RunSpec {
  const { options, profile: loaded, host, layout } = input;
  const profile = loaded.profile;
  const ref = options.image ?? 'host';
  const oci = ref === 'host' ? null : input.image;
  if (ref !== 'host' && !oci) {
    throw new SandboxError('internal', `image "${ref}" was not resolved before the run was planned`, 'resolve it with prepareImage() first');
  }
  // --entrypoint replaces the image's Entrypoint and drops its Cmd, as in podman
  const config = oci && options.entrypoint ? { ...oci.config, Entrypoint: options.entrypoint, Cmd: [] } : oci?.config;
  const argv = config ? imageArgv(config, options.command) : [...options.command];
  if (!argv.length || argv[0] === '') {
    throw new SandboxError('usage', oci ? `image ${ref} has no default command (Entrypoint and Cmd are empty)` : 'missing command',
      `give the program to run after the image, e.g. \`sandbox exec ${oci ? ref : 'host'} -- /bin/echo hi\``);
  }

  const { user, name, home } = resolveRunUser(input);

  const hostname = options.hostname ?? profile.hostname ?? DEFAULT_HOSTNAME;
  if (!HOSTNAME_RE.test(hostname)) {
    throw new SandboxError('usage', `invalid hostname "${hostname}" (--hostname)`, 'use letters, digits, dots and dashes, at most 63 characters');
  }
  const network = resolveNetwork({
    ...(options.network !== undefined && { network: options.network }),
    ...(options.publish !== undefined && { publish: options.publish }),
    profile: loaded,
    helpers: { pasta: host.pasta, slirp4netns: host.slirp4netns },
    hostResolvConf: input.hostResolvConf ?? null,
  });

  const fromProfile: Mount[] = [
    ...(profile.tmpfs ?? []).map((t, i): Mount => ({ kind: 'tmpfs', spec: resolveTmpfs(t, `${loaded.file}#/tmpfs/${i}`) })),
    ...(profile.volumes ?? []).map((v, i): Mount => ({ kind: 'volume', spec: resolveVolume(v, `${loaded.file}#/volumes/${i}`, input.inspectPath) })),
  ];
  const fromFlags: Mount[] = [
    ...(options.tmpfs ?? []).map((t): Mount => ({ kind: 'tmpfs', spec: resolveTmpfs(typeof t === 'string' ? parseTmpfs(t) : t, '--tmpfs') })),
    ...(options.volumes ?? []).map((v): Mount => ({ kind: 'volume', spec: resolveVolume(typeof v === 'string' ? parseVolume(v) : v, '-v', input.inspectPath) })),
  ];
  const mounts = mergeMounts(fromProfile, fromFlags);
  if (!mounts.some((m) => targetOf(m) === '/tmp')) mounts.unshift({ kind: 'tmpfs', spec: resolveTmpfs({ path: '/tmp' }, 'default /tmp') });
  const tmpfs = mounts.flatMap((m) => (m.kind === 'tmpfs' ? [m.spec] : []));
  const volumes = mounts.flatMap((m) => (m.kind === 'volume' ? [m.spec] : []));

  const cwd = options.workdir ?? (oci?.config.WorkingDir || undefined) ?? profile.workdir ?? (oci ? '/' : home);
  if (!cwd.startsWith('/')) throw new SandboxError('usage', `working directory "${cwd}" is not absolute (-w)`, 'write it from /, e.g. -w /tmp');

  const tty = options.tty ?? false;
  // the image's Env comes before the profile's and the flags' (it may set PATH and HOME)
  const base: Record<string, string> = options.cleanEnv ? {} : { PATH: DEFAULT_PATH, HOME: home, HOSTNAME: hostname, ...(oci ? imageEnv(oci.config) : {}) };
  if (tty) base.TERM = input.callerEnv.TERM || 'xterm';
  const env = resolveEnv(input, base);
  argv.forEach((arg, i) => rejectNul(arg, `argument ${i} of the command`));
  env.forEach((e) => rejectNul(e, `environment variable ${e.split('=')[0]}`));
  // an empty search path makes the stage execute a bare name from the working directory
  const searchPath = options.pathSearch === false ? '' : env.findLast((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;

  const limits = resolveLimits(options.limits ?? {}, profile.limits ?? {}, loaded.file);
  const seccomp = options.seccomp ?? profile.seccomp ?? 'default';
  if (seccomp === 'unconfined' && profile.refuseUnconfined) {
    throw new SandboxError('usage', `profile ${loaded.name} refuses --security-opt seccomp=unconfined`,
      'this profile is for untrusted code and always filters system calls; give another policy, or use a profile that allows it (default)');
  }

  const capabilities = resolveCapabilities(options, loaded);
  const noNewPrivileges = options.noNewPrivileges ?? true;
  if (!noNewPrivileges && profile.refuseNewPrivileges) {
    throw new SandboxError('usage', `profile ${loaded.name} refuses --security-opt no-new-privileges=false`,
      'this profile is for untrusted code: setuid files and file capabilities never raise its privileges; use a profile that allows it (default)');
  }

  const spec: RunSpec = {
    image: oci
      ? { kind: 'oci', ref: oci.ref, digest: oci.digest, layers: [...oci.layers], overlay: { ...oci.overlay },
        proc: structuredClone(layout.proc), sys: structuredClone(layout.sys) }
      : { kind: 'host', layout: structuredClone(layout) },
    profile: { name: loaded.name, file: loaded.file },
    argv,
    env,
    searchPath,
    cwd: posix.normalize(cwd),
    user: { ...user, name, home },
    hostname,
    network,
    readOnly: options.readOnly ?? profile.readOnly ?? false,
    rootSizeBytes: parseSize(profile.rootSize ?? DEFAULT_ROOT_SIZE, `${loaded.file}#/rootSize`),
    tmpfs,
    volumes,
    chownAfterRun: resolveChownAfterRun(options.chownAfterRun, volumes),
    tty,
    interactive: options.interactive ?? false,
    idmap: planIdMap(host, user, input.slot),
    seccomp,
    capabilities,
    noNewPrivileges,
    limits,
    output: {
      relay: limits.outputBytes !== null || (options.accountOutput ?? false),
      mergeStderr: options.stderrToStdout ?? false,
    },
  };
  return deepFreeze(validateRunSpec(spec, host));
}

/** The profile's capabilities on podman's default set, then the flags on top; a profile may refuse additions. */
function resolveCapabilities(options: ExecOptions, loaded: LoadedProfile): Capability[] {
  const { profile, file, name } = loaded;
  const fromProfile = mergeCapabilities(PODMAN_DEFAULT_CAPS, profile.capabilities?.add ?? [], profile.capabilities?.drop ?? [],
    { add: `${file}#/capabilities/add`, drop: `${file}#/capabilities/drop` });
  if (options.capAdd?.length && profile.refuseCapAdd) {
    throw new SandboxError('usage', `profile ${name} refuses --cap-add ${options.capAdd.join(',')}`,
      'this profile is for untrusted code and holds no capability; use a profile that allows capabilities (default)');
  }
  return mergeCapabilities(fromProfile, options.capAdd ?? [], options.capDrop ?? [], { add: '--cap-add', drop: '--cap-drop' });
}

/**
 * Who the workload is: -u, else (for an image) the image's User, else the
 * profile's user, else root. Known before the run takes its uid slot (a
 * large id needs more than one). Names exist only in images (their /etc/passwd);
 * the host image has fixed ones.
 */
export function resolveRunUser(input: ResolveInput): { user: { uid: number; gid: number }; name: string; home: string } {
  const { options, profile: loaded } = input;
  const oci = (options.image ?? 'host') === 'host' ? null : input.image;
  if (oci) {
    let found: ImageUser;
    if (typeof options.user === 'string') found = resolveImageUser(options.user, oci, '-u');
    else if (options.user) found = resolveImageUser(`${options.user.uid}:${options.user.gid}`, oci, 'user');
    else if (oci.config.User) found = resolveImageUser(oci.config.User, oci, `the image config's User (${oci.ref})`);
    else {
      const p = loaded.profile.user ?? { uid: 0, gid: 0 };
      found = resolveImageUser(`${p.uid}:${p.gid}`, oci, `${loaded.file}#/user`);
    }
    return { user: { uid: found.uid, gid: found.gid }, name: found.name, home: found.home };
  }
  const user = typeof options.user === 'string' ? parseUser(options.user) : options.user ?? loaded.profile.user ?? { uid: 0, gid: 0 };
  return { user, name: user.uid === 0 ? 'root' : 'sandbox', home: user.uid === 0 ? '/root' : '/home/sandbox' };
}

function deepFreeze<T>(o: T, seen = new WeakSet<object>()): T {
  if (o && typeof o === 'object' && !seen.has(o)) {
    seen.add(o);
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v, seen);
  }
  return o;
}

// rootfs/: turns a RunSpec into the mount ops pid 1 runs, in order:
//   1. a scratch tmpfs becomes / with the host root kept at /oldroot,
//   2. /newroot gets the image: for `host` a fresh tmpfs with read-only binds
//      of the host's /usr, /bin, /lib*, selected /etc files; for an OCI image
//      an overlay of its layers with the run's own writable layer. Then, with
//      every path resolved inside /newroot (image content may hold hostile
//      symlinks): generated /etc files, /proc with masks, a minimal /dev,
//      tmpfs mounts and volumes,
//   3. /newroot becomes / and the old root is detached: no path leads back.
// Must not: run anything, or expose a host path the spec does not name.
import { isMapped } from '../idmap/plan-idmap.js';
import type { HostImageSpec, OciImageSpec, RunSpec, TmpfsSpec, VolumeSpec } from '../resolve/run-spec.js';
import { CLONE, MNT_DETACH, MOUNT_ATTR, MS, ops, type StageOp } from '../stage/plan.js';
import { planFuseOverlaySeal, planFuseOverlayStart, planOverlayMount, type WritableLayer } from './overlay-root.js';
import { generatedEtcFiles } from './generated-etc.js';
import type { HostEntry } from './host-image.js';

/** Host directory the scratch tmpfs of a `host` image run is mounted on (in the private mount namespace only); an image run has its own. */
const SCRATCH = '/tmp';
const NEW = '/newroot';
const OLD = '/oldroot';
/** Where mounts into the confined new root are made before they are moved into place. */
const STAGING = '/staging';
/** Where an image run's generated /etc files are written, on the scratch root, to be bound into the image. */
const GENERATED = '/generated';

const RO_BIND = MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV;
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** Binds a host file or directory read-only at the same path in the new root. */
function bindHostEntry(e: HostEntry): StageOp[] {
  if (e.kind === 'symlink') return [ops.symlink(e.target, NEW + e.path)];
  const create = e.kind === 'dir' ? ops.mkdir(NEW + e.path) : ops.writeFile(NEW + e.path, '', 0o644);
  const recursive = e.kind === 'dir';
  return [create, ops.bind(OLD + e.path, NEW + e.path, recursive), ops.setattr(NEW + e.path, RO_BIND, 0, recursive)];
}

/** The host image: a fresh tmpfs with read-only binds of the host's toolchain directories. */
function planHostImage(spec: RunSpec, image: HostImageSpec): StageOp[] {
  const { layout } = image;
  return [
    ops.mount('tmpfs', NEW, 'tmpfs', MS.NOSUID | MS.NODEV, `mode=0755,size=${spec.rootSizeBytes}`),
    // from here every path under /newroot is resolved inside it
    ops.confine(NEW, STAGING),
    ...bindHostEntry({ path: '/usr', kind: 'dir' }),
    ...layout.rootEntries.flatMap(bindHostEntry),
    ops.mkdir(NEW + '/etc'),
    ...layout.etcEntries.flatMap(bindHostEntry),
  ];
}

/** An OCI image: its layers and the run's writable layer as an overlay. */
function planOciImage(spec: RunSpec, image: OciImageSpec, writable: WritableLayer): StageOp[] {
  // fuse-overlayfs mounted it before the pivot
  const mount = image.overlay.kind === 'native' ? planOverlayMount(image, writable, NEW, OLD, !spec.noNewPrivileges) : [];
  return [...mount, ops.confine(NEW, STAGING), ops.mkdir(NEW + '/etc')];
}

/**
 * The generated /etc files. The host image's root is a fresh tmpfs: written
 * in place. An image's are written on the scratch root and bound over the
 * image's own (made only where the image has none), as podman does: the
 * image's files stay as they are, and its writable layer gets nothing to
 * copy up or clear.
 */
function planGeneratedEtc(spec: RunSpec, kind: 'host' | 'oci'): StageOp[] {
  const files = generatedEtcFiles(spec);
  if (kind === 'host') return files.map((f) => ops.writeFile(NEW + f.path, f.content, 0o644));
  return [
    ops.mkdir(GENERATED),
    ...files.flatMap((f) => {
      const at = `${GENERATED}/${f.path.slice(f.path.lastIndexOf('/') + 1)}`;
      return [ops.writeFile(at, f.content, 0o644), ops.mountPointFile(NEW + f.path), ops.bind(at, NEW + f.path, false)];
    }),
  ];
}

function planProc(spec: RunSpec): StageOp[] {
  const proc = spec.image.kind === 'host' ? spec.image.layout.proc : spec.image.proc;
  const hidden = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  return [
    ops.mkdir(NEW + '/proc'),
    ops.mount('proc', NEW + '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC),
    ...proc.maskFiles.map((p) => ops.bind(OLD + '/dev/null', NEW + p, false)),
    ...proc.maskDirs.map((p) => ops.mount('tmpfs', NEW + p, 'tmpfs', hidden, 'mode=0555,size=4k')),
    ...proc.readOnly.flatMap((p) => [
      ops.bind(NEW + p, NEW + p, true),
      ops.setattr(NEW + p, RO_BIND | MOUNT_ATTR.NOEXEC, 0, true),
    ]),
  ];
}

/**
 * /sys of an image run, read-only as podman mounts it: a sysfs of the run's
 * own network namespace, or the host's /sys bound when it shares the host's
 * network (a user namespace may mount sysfs only for a network namespace it
 * owns); firmware, power capping, SELinux and block devices masked.
 */
function planSys(spec: RunSpec, image: OciImageSpec): StageOp[] {
  const hidden = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const mount = spec.network.mode === 'host'
    ? [ops.bind(OLD + '/sys', NEW + '/sys', true), ops.setattr(NEW + '/sys', RO_BIND | MOUNT_ATTR.NOEXEC, 0, true)]
    : [ops.mount('sysfs', NEW + '/sys', 'sysfs', hidden)];
  return [
    ops.mkdir(NEW + '/sys'),
    ...mount,
    ...image.sys.maskDirs.map((p) => ops.mount('tmpfs', NEW + p, 'tmpfs', hidden, 'mode=0555,size=4k')),
  ];
}

function planDev(spec: RunSpec): StageOp[] {
  // devpts wants the tty group mapped; without it the kernel refuses gid=5
  const ttyGroup = isMapped(spec.idmap.gidMap, 5) ? ',gid=5' : '';
  return [
    ops.mkdir(NEW + '/dev'),
    ops.mount('tmpfs', NEW + '/dev', 'tmpfs', MS.NOSUID | MS.NOEXEC, 'mode=0755,size=64k'),
    // device nodes cannot be created in a user namespace: bind the host's
    ...DEVICES.flatMap((d) => [ops.writeFile(`${NEW}/dev/${d}`, '', 0o666), ops.bind(`${OLD}/dev/${d}`, `${NEW}/dev/${d}`, false)]),
    ops.mkdir(NEW + '/dev/pts'),
    ops.mount('devpts', NEW + '/dev/pts', 'devpts', MS.NOSUID | MS.NOEXEC, `newinstance,ptmxmode=0666,mode=0620${ttyGroup}`),
    ops.symlink('pts/ptmx', NEW + '/dev/ptmx'),
    ops.mkdir(NEW + '/dev/shm', 0o1777),
    ops.mount('tmpfs', NEW + '/dev/shm', 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777,size=64m'),
    ops.symlink('/proc/self/fd', NEW + '/dev/fd'),
    ops.symlink('/proc/self/fd/0', NEW + '/dev/stdin'),
    ops.symlink('/proc/self/fd/1', NEW + '/dev/stdout'),
    ops.symlink('/proc/self/fd/2', NEW + '/dev/stderr'),
  ];
}

/** uid=/gid= options of a tmpfs, only with ids that exist inside. */
function tmpfsOwner(spec: RunSpec, t: TmpfsSpec): string {
  const [uid, gid] = t.owner === 'user' ? [spec.user.uid, spec.user.gid] : [0, 0];
  return isMapped(spec.idmap.uidMap, uid) && isMapped(spec.idmap.gidMap, gid) ? `,uid=${uid},gid=${gid}` : '';
}

type Mount = { target: string; ops: StageOp[] };

function tmpfsMount(spec: RunSpec, t: TmpfsSpec): Mount {
  const data = `size=${t.sizeBytes},mode=${t.mode.toString(8).padStart(4, '0')}${tmpfsOwner(spec, t)}`;
  return { target: t.path, ops: [ops.mkdir(NEW + t.path), ops.mount('tmpfs', NEW + t.path, 'tmpfs', MS.NOSUID | MS.NODEV, data)] };
}

function volumeMount(v: VolumeSpec): Mount {
  const target = NEW + v.target;
  const create = v.kind === 'dir'
    ? [ops.mkdir(target)]
    : [ops.mkdir(target.slice(0, target.lastIndexOf('/')) || '/'), ops.writeFile(target, '', 0o644)];
  const attrs = (v.writable ? MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV : RO_BIND) | (v.noexec ? MOUNT_ATTR.NOEXEC : 0);
  return { target: v.target, ops: [...create, ops.bind(OLD + v.source, target, v.kind === 'dir'), ops.setattr(target, attrs, 0, true)] };
}

/** Parents before children, so --tmpfs /data/tmp lands inside -v x:/data. */
function planMounts(spec: RunSpec): StageOp[] {
  const depth = (p: string) => p.split('/').length;
  return [...spec.tmpfs.map((t) => tmpfsMount(spec, t)), ...spec.volumes.map(volumeMount)]
    .sort((a, b) => depth(a.target) - depth(b.target))
    .flatMap((m) => m.ops);
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** The home directory, unless a mount provides it: never created inside a host volume. */
function planHome(spec: RunSpec): StageOp[] {
  const { uid, gid, home } = spec.user;
  if (spec.tmpfs.some((t) => t.path === home) || spec.volumes.some((v) => within(home, v.target))) return [];
  const owned = isMapped(spec.idmap.uidMap, uid) && isMapped(spec.idmap.gidMap, gid);
  return [ops.mkdir(NEW + home, uid === 0 ? 0o700 : 0o755, owned ? uid : -1, owned ? gid : -1)];
}

export function planRootfs(spec: RunSpec, writable?: WritableLayer): StageOp[] {
  const { image } = spec;
  // internal invariant: prepareRun makes the writable layer of every image run
  if (image.kind === 'oci' && !writable) throw new Error('an OCI image run needs its writable layer');
  // an image run's scratch root hides nothing of the host while host paths are still used (the layers' binds)
  const scratch = image.kind === 'oci' ? writable!.scratch : SCRATCH;
  const fuse = image.kind === 'oci' && image.overlay.kind === 'fuse' ? { image, program: image.overlay.program } : null;
  return [
    // nothing mounted here propagates back to the host
    ops.mount('', '/', '', MS.REC | MS.SLAVE),
    ops.mount('tmpfs', scratch, 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=0755,size=16k'),
    ops.mkdir(scratch + NEW),
    ops.mkdir(scratch + OLD),
    ops.mkdir(scratch + STAGING),
    // pid 1 of an image run pivots in a mount namespace of its own: the stage stays in the host's view,
    // and an overlay goes away with pid 1, before the stage clears the writable layer (with fuse-overlayfs
    // this namespace becomes the daemon's, and pid 1 takes another one after the pivot)
    ...(image.kind === 'oci' ? [ops.unshare(CLONE.NEWNS, fuse ? 'a mount namespace for fuse-overlayfs' : 'a mount namespace for pid 1')] : []),
    ...(fuse ? planFuseOverlayStart(fuse.image, writable!, fuse.program, scratch, NEW, !spec.noNewPrivileges) : []),
    ops.pivotRoot(scratch, scratch + OLD),
    ops.chdir('/'),
    ...(fuse ? planFuseOverlaySeal(fuse.image, OLD) : []),
    ...(image.kind === 'host' ? planHostImage(spec, image) : planOciImage(spec, image, writable!)),
    ...planGeneratedEtc(spec, image.kind),
    ...planProc(spec),
    ...(image.kind === 'oci' ? planSys(spec, image) : []),
    ...planDev(spec),
    ...planMounts(spec),
    // an image brings its own home directories (podman does not make them either)
    ...(image.kind === 'host' ? planHome(spec) : []),
    // like docker, a missing working directory is made, but never in a host volume
    ...(spec.volumes.some((v) => within(spec.cwd, v.target)) ? [] : [ops.mkdir(NEW + spec.cwd)]),
    // /newroot becomes /; the scratch root and the host root under it are detached
    ops.chdir(NEW),
    ops.pivotRoot('.', '.'),
    ops.umount('.', MNT_DETACH),
    ops.chdir('/'),
    ...(spec.readOnly ? [ops.setattr('/', MOUNT_ATTR.RDONLY, 0, false)] : []),
  ];
}

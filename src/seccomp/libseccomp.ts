// Typed bindings to libseccomp 2.5+ through koffi, for compiling policies to
// BPF in this process. Loaded on first use only: a cached filter needs none
// of it. Every call that returns a negative errno throws LibseccompError; a
// missing or too old library is a host problem (SandboxError with a hint).
// Must not: load a filter into this process (seccomp_load is not bound).
import { closeSync, fstatSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type * as Koffi from 'koffi';
import { errnoName } from '../errno-name.js';
import { SandboxError } from '../errors.js';

export class LibseccompError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${errnoName(errno)}`);
  }
}

// libseccomp's <seccomp.h>
export const SCMP_ACT = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0x00000000, TRAP: 0x00030000, ERRNO: 0x00050000,
  TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000,
} as const;
export const SCMP_CMP = { NE: 1, LT: 2, LE: 3, EQ: 4, GE: 5, GT: 6, MASKED_EQ: 7 } as const;
export const SCMP_FLTATR = { ACT_DEFAULT: 1, ACT_BADARCH: 2, CTL_NNP: 3, CTL_TSYNC: 4, CTL_LOG: 6, CTL_OPTIMIZE: 8 } as const;
/** __NR_SCMP_ERROR: the name is unknown to libseccomp on every architecture. */
export const NR_SCMP_ERROR = -1;

export interface ArgCmp {
  readonly arg: number;
  readonly op: number;
  readonly datumA: bigint;
  readonly datumB: bigint;
}

interface Bindings {
  koffi: typeof Koffi;
  version: { major: number; minor: number; micro: number };
  init(defAction: number): unknown;
  release(ctx: unknown): void;
  archAdd(ctx: unknown, arch: number): number;
  archResolveName(name: string): number;
  attrSet(ctx: unknown, attr: number, value: number): number;
  resolveName(name: string): number;
  ruleAdd(ctx: unknown, action: number, syscall: number, count: number, args: ArgCmp[]): number;
  exportBpf(ctx: unknown, fd: number): number;
  exportPfc(ctx: unknown, fd: number): number;
  memfdCreate(name: string, flags: number): number;
}

let bound: Bindings | undefined;

type Version = Bindings['version'];

const INSTALL_HINT = 'install libseccomp 2.5 or newer (debian/ubuntu: apt-get install libseccomp2; fedora/rhel: dnf install libseccomp); `sandbox doctor` checks it';

/** Opens libseccomp.so.2 with `load` (koffi.load); a library the loader cannot find is a host problem. */
export function openLibseccomp<L>(load: (name: string) => L): L {
  try {
    return load('libseccomp.so.2');
  } catch (e) {
    throw new SandboxError('host', `libseccomp.so.2 cannot be loaded: ${e instanceof Error ? e.message : String(e)}`, INSTALL_HINT);
  }
}

/** Refuses a libseccomp older than 2.5 (seccomp_export_bpf to a memfd, the 2.5 attributes). */
export function requireLibseccompVersion(v: Version): void {
  if (v.major < 2 || (v.major === 2 && v.minor < 5)) {
    throw new SandboxError('host', `libseccomp ${v.major}.${v.minor}.${v.micro} is too old: 2.5 or newer is needed`, INSTALL_HINT);
  }
}

function bind(): Bindings {
  if (bound) return bound;
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  const lib = openLibseccomp((name) => koffi.load(name));
  const libc = koffi.load('libc.so.6');
  const Version = koffi.struct('scmp_version', { major: 'uint', minor: 'uint', micro: 'uint' });
  koffi.struct('scmp_arg_cmp', { arg: 'uint', op: 'int', datum_a: 'uint64_t', datum_b: 'uint64_t' });
  const version = koffi.decode(lib.func('const scmp_version *seccomp_version(void)')(), Version) as Version;
  requireLibseccompVersion(version);
  const ruleAddArray = lib.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const scmp_arg_cmp *arg_array)');
  bound = {
    koffi,
    version,
    init: lib.func('void *seccomp_init(uint32_t def_action)'),
    release: lib.func('void seccomp_release(void *ctx)'),
    archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    archResolveName: lib.func('uint32_t seccomp_arch_resolve_name(const char *arch_name)'),
    attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    resolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAdd: (ctx, action, syscall, count, args) =>
      ruleAddArray(ctx, action, syscall, count, count ? args.map((a) => ({ arg: a.arg, op: a.op, datum_a: a.datumA, datum_b: a.datumB })) : null),
    exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
    exportPfc: lib.func('int seccomp_export_pfc(void *ctx, int fd)'),
    memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
  };
  return bound;
}

function check(call: string, rc: number): number {
  if (rc < 0) throw new LibseccompError(call, -rc);
  return rc;
}

export function libseccompVersion(): string {
  const v = bind().version;
  return `${v.major}.${v.minor}.${v.micro}`;
}

/** The syscall number on the native architecture (negative pseudo numbers for calls of other arches), or NR_SCMP_ERROR. */
export function resolveSyscall(name: string): number {
  return bind().resolveName(name);
}

const MFD_CLOEXEC = 1;

/** One libseccomp filter context; release() it when done. */
export class FilterContext {
  private readonly b = bind();
  private ctx: unknown;

  constructor(defaultAction: number) {
    this.ctx = this.b.init(defaultAction);
    if (!this.ctx) throw new LibseccompError('seccomp_init', constants.errno.EINVAL);
  }

  addArch(name: string): void {
    const token = this.b.archResolveName(name);
    if (!token) throw new LibseccompError(`seccomp_arch_resolve_name(${name})`, constants.errno.EINVAL);
    const rc = this.b.archAdd(this.ctx, token);
    if (rc !== -constants.errno.EEXIST) check(`seccomp_arch_add(${name})`, rc);
  }

  setAttr(attr: number, value: number): void {
    check(`seccomp_attr_set(${attr})`, this.b.attrSet(this.ctx, attr, value));
  }

  addRule(action: number, syscall: number, args: readonly ArgCmp[]): void {
    check('seccomp_rule_add_array', this.b.ruleAdd(this.ctx, action, syscall, args.length, [...args]));
  }

  /** The BPF program (struct sock_filter[]), or the readable PFC dump. */
  export(format: 'bpf' | 'pfc'): Buffer {
    const fd = check('memfd_create', this.b.memfdCreate('seccomp-export', MFD_CLOEXEC));
    try {
      check(`seccomp_export_${format}`, format === 'bpf' ? this.b.exportBpf(this.ctx, fd) : this.b.exportPfc(this.ctx, fd));
      const out = Buffer.alloc(fstatSync(fd).size);
      let off = 0;
      while (off < out.length) off += readSync(fd, out, off, out.length - off, off);
      return out;
    } finally {
      closeSync(fd);
    }
  }

  release(): void {
    if (this.ctx) this.b.release(this.ctx);
    this.ctx = null;
  }
}

// The binary plan the stage reads: header, then per op u32 code, u32 #ints,
// u32 #strings, int64 ints, then u32 length + bytes + NUL per string (LE).
import { describe, expect, it } from 'vitest';
import { CLONE, encodePlan, MNT_DETACH, MOUNT_ATTR, MS, ops, type StageOp } from '../../../src/stage/plan.js';
import { Op, PLAN_MAGIC, PROTOCOL_VERSION } from '../../../src/stage/protocol.js';

interface Decoded { code: number; ints: bigint[]; strs: Buffer[] }

/** What the stage's read_plan (main.c) does, with the same checks. */
function decode(buf: Buffer): { magic: number; version: number; size: number; ops: Decoded[] } {
  const magic = buf.readUInt32LE(0);
  const version = buf.readUInt32LE(4);
  const size = buf.readUInt32LE(8);
  const nops = buf.readUInt32LE(12);
  const body = buf.subarray(16);
  expect(body.length).toBe(size);
  let off = 0;
  const out: Decoded[] = [];
  for (let i = 0; i < nops; i++) {
    const code = body.readUInt32LE(off);
    const nint = body.readUInt32LE(off + 4);
    const nstr = body.readUInt32LE(off + 8);
    off += 12;
    const ints: bigint[] = [];
    for (let k = 0; k < nint; k++, off += 8) ints.push(body.readBigInt64LE(off));
    const strs: Buffer[] = [];
    for (let k = 0; k < nstr; k++) {
      const len = body.readUInt32LE(off);
      off += 4;
      strs.push(Buffer.from(body.subarray(off, off + len)));
      expect(body[off + len]).toBe(0);
      off += len + 1;
    }
    out.push({ code, ints, strs });
  }
  expect(off).toBe(size);
  return { magic, version, size, ops: out };
}

const le32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const le64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64LE(n); return b; };
const str = (s: string) => Buffer.concat([le32(Buffer.byteLength(s)), Buffer.from(s), Buffer.of(0)]);

describe('encodePlan header', () => {
  it('encodes an empty plan as the 16-byte header alone', () => {
    const buf = encodePlan([]);
    expect(buf.toString('hex')).toBe('53425831' + '01000000' + '00000000' + '00000000');
    expect(buf.subarray(0, 4).toString('latin1')).toBe('SBX1');
  });

  it('writes magic, version, body size (without the header) and op count', () => {
    const plan = [ops.userns(), ops.chdir('/'), ops.setIds(1000, 1000, true)];
    const buf = encodePlan(plan);
    expect(buf.readUInt32LE(0)).toBe(0x31584253);
    expect(buf.readUInt32LE(0)).toBe(PLAN_MAGIC);
    expect(buf.readUInt32LE(4)).toBe(PROTOCOL_VERSION);
    expect(PROTOCOL_VERSION).toBe(1);
    // userns: 12; chdir: 12 + (4+1+1); setIds: 12 + 3*8
    const size = 12 + (12 + 6) + (12 + 24);
    expect(buf.readUInt32LE(8)).toBe(size);
    expect(buf.readUInt32LE(12)).toBe(3);
    expect(buf.length).toBe(16 + size);
  });
});

describe('encodePlan ops', () => {
  it('encodes code, counts, int64 ints and length-prefixed NUL-terminated strings', () => {
    const buf = encodePlan([ops.bind('/a', '/bc', true)]);
    const expected = Buffer.concat([
      le32(PLAN_MAGIC), le32(1), le32(12 + 8 + 7 + 8), le32(1),
      le32(11), le32(1), le32(2),
      le64(1n),
      le32(2), Buffer.from('/a'), Buffer.of(0),
      le32(3), Buffer.from('/bc'), Buffer.of(0),
    ]);
    expect(buf.toString('hex')).toBe(expected.toString('hex'));
    expect(Op.BIND).toBe(11);
  });

  it('encodes negative and bigint integers as little-endian int64', () => {
    const buf = encodePlan([ops.mkdir('/x'), ops.rlimit(7, 2n ** 40n, -1, 'RLIMIT_NOFILE')]);
    const expected = Buffer.concat([
      le32(PLAN_MAGIC), le32(1), le32(12 + 24 + 7 + 12 + 24), le32(2),
      le32(Op.MKDIR), le32(3), le32(1), le64(0o755n), Buffer.from('ffffffffffffffff', 'hex'), le64(-1n), str('/x'),
      le32(Op.RLIMIT), le32(3), le32(0), le64(7n), Buffer.from('0000000000010000', 'hex'), le64(-1n),
    ]);
    expect(buf.toString('hex')).toBe(expected.toString('hex'));
  });

  it('counts string lengths in UTF-8 bytes, not characters', () => {
    const buf = encodePlan([ops.chdir('/é')]);
    expect(buf.readUInt32LE(16 + 12)).toBe(3);
    expect(buf.subarray(16 + 16, 16 + 19)).toEqual(Buffer.from('/é'));
    expect(buf[16 + 19]).toBe(0);
    expect(buf.readUInt32LE(8)).toBe(12 + 4 + 3 + 1);
  });

  it('round-trips a realistic plan through a decoder that checks like the stage', () => {
    const plan: StageOp[] = [
      ops.userns(),
      ops.mapExec('/usr/bin/newuidmap', ['0', '1000', '1']),
      ops.mapWrite('uid_map', '0 1000 1\n'),
      ops.setupIds(0, 0),
      ops.unshare(CLONE.NEWNS | CLONE.NEWPID, 'mount, pid'),
      ops.forkInit(0),
      ops.mount('tmpfs', '/newroot', 'tmpfs', MS.NOSUID | MS.NODEV, 'size=1'),
      ops.setattr('/newroot', MOUNT_ATTR.RDONLY),
      ops.umount('.', MNT_DETACH),
      ops.writeFile('/etc/hostname', 'box\n', 0o644, 0, 0),
      ops.exec('sh', '/bin', ['sh', '-c', 'echo hi'], ['A=1', 'B=']),
    ];
    const d = decode(encodePlan(plan));
    expect(d.magic).toBe(PLAN_MAGIC);
    expect(d.ops.length).toBe(plan.length);
    d.ops.forEach((o, i) => {
      expect(o.code).toBe(plan[i]!.code);
      expect(o.ints).toEqual(plan[i]!.ints.map((v) => BigInt(v)));
      expect(o.strs.map((b) => b.toString('utf8'))).toEqual(plan[i]!.strs);
    });
  });
});

describe('encodePlan arguments', () => {
  it('refuses a NUL byte inside a string argument, naming the op', () => {
    expect(() => encodePlan([ops.exec('/bin/sh', '/bin', ['/bin/sh', 'a\0b'], [])]))
      .toThrow('NUL byte in stage argument of "execute /bin/sh"');
    expect(() => encodePlan([ops.chdir('/ok'), ops.writeFile('/x', 'a\u0000')])).toThrow(/NUL byte.*"write \/x"/);
  });

  it('encodes Uint8Array arguments raw, NUL bytes included', () => {
    const bpf = new Uint8Array([0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x7f]);
    const buf = encodePlan([ops.seccomp(bpf, 1)]);
    const expected = Buffer.concat([
      le32(PLAN_MAGIC), le32(1), le32(12 + 8 + 4 + 8 + 1), le32(1),
      le32(Op.SECCOMP), le32(1), le32(1), le64(1n), le32(8), Buffer.from(bpf), Buffer.of(0),
    ]);
    expect(buf.toString('hex')).toBe(expected.toString('hex'));
  });
});

describe('op constructors', () => {
  it('exec puts argc in ints[0] and file, search path, argv, envp in the strings', () => {
    const o = ops.exec('ls', '/usr/bin:/bin', ['ls', '-l', '/'], ['PATH=/usr/bin', 'HOME=/root']);
    expect(o.code).toBe(Op.EXEC);
    expect(o.ints).toEqual([3]);
    expect(o.strs).toEqual(['ls', '/usr/bin:/bin', 'ls', '-l', '/', 'PATH=/usr/bin', 'HOME=/root']);
    expect(ops.exec('true', '/bin', ['true'], []).ints).toEqual([1]);
  });

  it('puts arguments where protocol.ts says', () => {
    expect(ops.bind('/a', '/b', false)).toEqual({ code: Op.BIND, ints: [0], strs: ['/a', '/b'], what: 'bind /a on /b' });
    expect(ops.setattr('/p', 7)).toEqual({ code: Op.SETATTR, ints: [7, 0, 1], strs: ['/p'], what: 'set mount attributes of /p' });
    expect(ops.mount('', '/', '', MS.REC | MS.SLAVE).ints).toEqual([0x84000]);
    expect(ops.mount('', '/', '', 0).strs).toEqual(['', '/', '', '']);
    expect(ops.setIds(5, 6, false).ints).toEqual([5, 6, 0]);
    expect(ops.writeFile('/f', 'x').ints).toEqual([0o644, -1, -1]);
    expect(ops.symlink('usr/bin', '/newroot/bin').strs).toEqual(['usr/bin', '/newroot/bin']);
    expect(ops.forkWorkload(1)).toMatchObject({ code: Op.FORK_WORKLOAD, ints: [1], strs: [] });
    // the start gate: s [FIFO], i [fd]; then i [fd]
    expect(ops.openGate('/run/x/c1/exec.fifo', 202)).toEqual({ code: Op.OPEN_GATE, ints: [202], strs: ['/run/x/c1/exec.fifo'],
      what: 'open the start FIFO /run/x/c1/exec.fifo as fd 202' });
    expect(ops.waitStart(202)).toEqual({ code: Op.WAIT_START, ints: [202], strs: [], what: 'wait for start (the start FIFO)' });
  });

  it('encodes the start gate\'s ops as the stage reads them', () => {
    const buf = encodePlan([ops.openGate('/f', 202), ops.waitStart(202)]);
    expect(buf.subarray(16)).toEqual(Buffer.concat([
      le32(Op.OPEN_GATE), le32(1), le32(1), le64(202n), le32(2), Buffer.from('/f\0'),
      le32(Op.WAIT_START), le32(1), le32(0), le64(202n),
    ]));
    expect([Op.OPEN_GATE, Op.WAIT_START]).toEqual([40, 41]);
  });

  it('describes each step in words', () => {
    expect(ops.userns().what).toBe('create the user namespace');
    expect(ops.mapWrite('uid_map', '0 1000 1\n').what).toBe('write /proc/PID/uid_map');
    expect(ops.mapExec('/usr/bin/newuidmap', ['0', '1000', '1']).what).toBe('/usr/bin/newuidmap PID 0 1000 1');
    expect(ops.setupIds(0, 0).what).toBe('become 0:0 for set-up');
    expect(ops.mount('proc', '/newroot/proc', 'proc', 0).what).toBe('mount proc on /newroot/proc');
    expect(ops.mount('', '/', '', MS.REC | MS.SLAVE).what).toBe('mount (flags) on /');
    expect(ops.bind('/oldroot/usr', '/newroot/usr').what).toBe('bind /oldroot/usr on /newroot/usr');
    expect(ops.mkdir('/newroot/etc').what).toBe('create directory /newroot/etc');
    expect(ops.symlink('usr/bin', '/newroot/bin').what).toBe('symlink /newroot/bin -> usr/bin');
    expect(ops.pivotRoot('.', '.').what).toBe('pivot_root to .');
    expect(ops.rlimit(7, 10, 10, 'RLIMIT_NOFILE').what).toBe('set RLIMIT_NOFILE');
    expect(ops.setIds(1000, 1000, true).what).toBe('switch to uid 1000 gid 1000');
    expect(ops.exec('/bin/echo', '/bin', ['/bin/echo'], []).what).toBe('execute /bin/echo');
  });

  it('gives every constructor a description without placeholders', () => {
    const all: StageOp[] = [
      ops.joinUserns('/proc/1/fd/9'), ops.userns(), ops.mapWrite('gid_map', 'x'), ops.mapExec('/p', ['1']), ops.setupIds(1, 2), ops.unshare(1, 'mount'),
      ops.sync(), ops.joinCgroup('/sys/fs/cgroup/x/cgroup.procs'), ops.limits(1, 2, 3, 0, '', 0), ops.forkInit(0), ops.mount('tmpfs', '/t', 'tmpfs', 0), ops.bind('/a', '/b'), ops.setattr('/p', 1),
      ops.umount('/u', 0), ops.mkdir('/d'), ops.writeFile('/f', ''), ops.symlink('t', '/l'), ops.pivotRoot('/n', '/o'), ops.openDir('/d', 100), ops.closeFd(100), ops.confine('/n', '/s'), ops.clearDir(100, true), ops.chownTree(100, 0, 0, 'after-run'), ops.run('/r', ['r']),
      ops.keepMountNs(100, 'of x'), ops.enterMountNs(100, 'of x'),
      ops.sethostname('h'), ops.loopbackUp(), ops.pty('/dev/pts/ptmx'), ops.forkWorkload(0), ops.chdir('/c'), ops.oomScoreAdj(1000),
      ops.rlimit(1, 2, 3, 'RLIMIT_X'), ops.setIds(1, 2, true), ops.dropCaps(0n, 0n), ops.noNewPrivs(),
      ops.seccomp(new Uint8Array(8)), ops.exec('f', '/p', ['f'], []), ops.openGate('/s/exec.fifo', 202), ops.waitStart(202),
    ];
    // one constructor per op code
    expect(new Set(all.map((o) => o.code))).toEqual(new Set(Object.values(Op)));
    for (const o of all) {
      expect(o.what.length).toBeGreaterThan(3);
      expect(o.what).not.toMatch(/undefined|null|\[object|NaN/);
    }
  });
});

// The whole stage plan: id maps, namespaces, rootfs, then the workload's
// own steps down to exec.
import { describe, expect, it } from 'vitest';
import { EXEC_FAILURE_EXIT, FORWARDED_SIGNALS, signalNumbers } from '../../../src/stage/stage-choices.js';
import { planRun, START_GATE_FD, SyncPoint, withStartGate } from '../../../src/launch/plan-run.js';
import { syncRouter } from '../../../src/launch/launch-stage.js';
import { planRootfs } from '../../../src/rootfs/plan-rootfs.js';
import { CLONE, encodePlan, type StageOp } from '../../../src/stage/plan.js';
import { ForkFlag, Op } from '../../../src/stage/protocol.js';
import { aliceNoRange, aliceSubid, resolve, rootNoRange, rootSubid, TOOLS } from '../support/fixtures.js';
import { loadProfile } from '../../../src/config/load-profile.js';

const NAMESPACES = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP;
const brief = (o: StageOp) => [o.code, o.ints, o.strs];
/** FORK_INIT's ints: the fork flags, then the run's choices (exec failure exit codes, forwarded signals). */
const withChoices = (flags: number) => [flags, EXEC_FAILURE_EXIT.notFound, EXEC_FAILURE_EXIT.other, ...signalNumbers(FORWARDED_SIGNALS)];

describe('planRun id maps', () => {
  it('newidmap: two MAP_EXEC ops with "inside outside count" triples', () => {
    const spec = resolve({}, { host: aliceSubid });
    const plan = planRun(spec, TOOLS);
    expect(plan.slice(0, 7).map(brief)).toEqual([
      [Op.USERNS, [], []],
      [Op.MAP_EXEC, [], ['/usr/bin/newuidmap', '0', '1000', '1', '1', '100000', '65536']],
      [Op.MAP_EXEC, [], ['/usr/bin/newgidmap', '0', '1000', '1', '1', '300000', '65536']],
      [Op.SETUP_IDS, [0, 0], []],
      [Op.UNSHARE, [NAMESPACES], []],
      // the run's own network namespace: ICMP echo sockets for every group, as podman sets it
      [Op.WRITE_FILE, [0o644, -1, -1], ['/proc/sys/net/ipv4/ping_group_range', '0 0']],
      [Op.FORK_INIT, withChoices(0), []],
    ]);
    expect(plan.some((o) => o.code === Op.MAP_WRITE)).toBe(false);
    expect(plan[1]!.what).toBe('/usr/bin/newuidmap PID 0 1000 1 1 100000 65536');
  });

  it('newidmap without the tools is a programming error', () => {
    const spec = resolve({}, { host: aliceSubid });
    expect(() => planRun(spec, { newuidmap: null, newgidmap: '/usr/bin/newgidmap' })).toThrow('idmap plan needs newuidmap/newgidmap');
  });

  it('direct single: setgroups deny is written before uid_map and gid_map', () => {
    const spec = resolve({ user: '1000:1000' }, { host: aliceNoRange });
    const plan = planRun(spec, { newuidmap: null, newgidmap: null });
    expect(plan.slice(0, 6).map(brief)).toEqual([
      [Op.USERNS, [], []],
      [Op.MAP_WRITE, [], ['setgroups', 'deny']],
      [Op.MAP_WRITE, [], ['uid_map', '1000 1000 1\n']],
      [Op.MAP_WRITE, [], ['gid_map', '1000 1000 1\n']],
      [Op.SETUP_IDS, [1000, 1000], []],
      [Op.UNSHARE, [NAMESPACES], []],
    ]);
    expect(plan.some((o) => o.code === Op.MAP_EXEC)).toBe(false);
  });

  it('root with a range writes the maps directly and keeps setgroups', () => {
    const plan = planRun(resolve({}, { host: rootSubid }), TOOLS);
    expect(plan.slice(1, 4).map(brief)).toEqual([
      [Op.MAP_WRITE, [], ['uid_map', '0 200000 65536\n']],
      [Op.MAP_WRITE, [], ['gid_map', '0 400000 65536\n']],
      [Op.SETUP_IDS, [0, 0], []],
    ]);
  });

  it('root without a range maps the workload to nobody', () => {
    const plan = planRun(resolve({ user: '7:8' }, { host: rootNoRange }), TOOLS);
    expect(plan.slice(1, 4).map(brief)).toEqual([
      [Op.MAP_WRITE, [], ['uid_map', '7 65534 1\n']],
      [Op.MAP_WRITE, [], ['gid_map', '8 65534 1\n']],
      [Op.SETUP_IDS, [7, 8], []],
    ]);
  });
});

describe('planRun body', () => {
  it('runs the rootfs plan right after FORK_INIT, then hostname and lo', () => {
    const spec = resolve({ hostname: 'box' }, { host: aliceSubid });
    const plan = planRun(spec, TOOLS);
    const rootfs = planRootfs(spec);
    const init = plan.findIndex((o) => o.code === Op.FORK_INIT);
    expect(plan.slice(init + 1, init + 1 + rootfs.length)).toEqual(rootfs);
    expect(plan.slice(init + 1 + rootfs.length, init + 3 + rootfs.length).map(brief)).toEqual([
      [Op.SETHOSTNAME, [], ['box']],
      [Op.LOOPBACK_UP, [], []],
    ]);
  });

  it('ends with CHDIR, no core dumps, SET_IDS (clearing groups when setgroups is allowed), DROP_CAPS, NO_NEW_PRIVS, EXEC', () => {
    const spec = resolve({ command: ['ls', '-l'], user: '1000', workdir: '/tmp', env: ['A=1'] }, { host: aliceSubid });
    const plan = planRun(spec, TOOLS);
    expect(plan.slice(-7).map(brief)).toEqual([
      [Op.FORK_WORKLOAD, [0], []],
      [Op.CHDIR, [], ['/tmp']],
      [Op.RLIMIT, [4, 0, 0], []],
      [Op.SET_IDS, [1000, 1000, 1], []],
      [Op.DROP_CAPS, [0x800405fbn, 0n], []], // podman's default set, in the bounding set only for uid 1000
      [Op.NO_NEW_PRIVS, [], []],
      [Op.EXEC, [2], ['ls', spec.searchPath, 'ls', '-l', ...spec.env]],
    ]);
    expect(spec.env.at(-1)).toBe('A=1');
    expect(plan.at(-1)!.what).toBe('execute ls');
  });

  it('the strict profile keeps no capability', () => {
    const plan = planRun(resolve({}, { host: aliceSubid, profile: loadProfile('strict') }), TOOLS);
    expect(plan.find((o) => o.code === Op.DROP_CAPS)!.ints).toEqual([0n, 0n]);
  });

  it('the filter comes after NO_NEW_PRIVS; without no_new_privs before SET_IDS, while the stage still holds CAP_SYS_ADMIN', () => {
    const bpf = { programs: [new Uint8Array(8)], flags: 0 };
    const codes = (noNewPrivileges: boolean) => planRun(resolve({ noNewPrivileges }, { host: aliceSubid }), TOOLS, bpf)
      .slice(-5).map((o) => o.code);
    expect(codes(true)).toEqual([Op.SET_IDS, Op.DROP_CAPS, Op.NO_NEW_PRIVS, Op.SECCOMP, Op.EXEC]);
    expect(codes(false).slice(-4)).toEqual([Op.SECCOMP, Op.SET_IDS, Op.DROP_CAPS, Op.EXEC]);
  });

  it('does not clear supplementary groups when setgroups is denied', () => {
    const plan = planRun(resolve({ user: '1000' }, { host: aliceNoRange }), TOOLS);
    expect(plan.find((o) => o.code === Op.SET_IDS)!.ints).toEqual([1000, 1000, 0]);
  });

  it('has exactly one op of each stage transition, in order', () => {
    const plan = planRun(resolve({}, { host: aliceSubid }), TOOLS);
    const idx = [Op.USERNS, Op.UNSHARE, Op.FORK_INIT, Op.FORK_WORKLOAD, Op.EXEC].map((c) => {
      expect(plan.filter((o) => o.code === c)).toHaveLength(1);
      return plan.findIndex((o) => o.code === c);
    });
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(idx.at(-1)).toBe(plan.length - 1);
  });

  it('encodes without error', () => {
    const plan = planRun(resolve({}, { host: aliceSubid }), TOOLS);
    const buf = encodePlan(plan);
    expect(buf.readUInt32LE(12)).toBe(plan.length);
  });
});

describe('planRun tty', () => {
  it('without -t: no PTY op and no fork flags', () => {
    const plan = planRun(resolve({}, { host: aliceSubid }), TOOLS);
    expect(plan.some((o) => o.code === Op.PTY)).toBe(false);
    expect(plan.find((o) => o.code === Op.FORK_INIT)!.ints).toEqual(withChoices(0));
    expect(plan.find((o) => o.code === Op.FORK_WORKLOAD)!.ints).toEqual([0]);
  });

  it('-t: a PTY op before FORK_WORKLOAD, which gets FORK_TTY', () => {
    const plan = planRun(resolve({ tty: true }, { host: aliceSubid }), TOOLS);
    const w = plan.findIndex((o) => o.code === Op.FORK_WORKLOAD);
    expect(plan[w - 1]).toMatchObject({ code: Op.PTY, strs: ['/dev/pts/ptmx'] });
    expect(plan[w]!.ints).toEqual([ForkFlag.TTY]);
    expect(plan.find((o) => o.code === Op.FORK_INIT)!.ints).toEqual(withChoices(ForkFlag.TTY));
    expect(plan.filter((o) => o.code === Op.PTY)).toHaveLength(1);
  });

  it('-t -i: the stage also copies stdin (FORK_INIT gets TTY_STDIN)', () => {
    const plan = planRun(resolve({ tty: true, interactive: true }, { host: aliceSubid }), TOOLS);
    expect(plan.find((o) => o.code === Op.FORK_INIT)!.ints).toEqual(withChoices(ForkFlag.TTY | ForkFlag.TTY_STDIN));
    expect(plan.find((o) => o.code === Op.FORK_WORKLOAD)!.ints).toEqual([ForkFlag.TTY]);
  });

  it('-i alone sets no tty flags', () => {
    const plan = planRun(resolve({ interactive: true }, { host: aliceSubid }), TOOLS);
    expect(plan.find((o) => o.code === Op.FORK_INIT)!.ints).toEqual(withChoices(0));
    expect(plan.some((o) => o.code === Op.PTY)).toBe(false);
  });
});

describe('planRun limits', () => {
  const limited = () => resolve({ limits: { cpuTime: 1.5, wallTime: 3, memory: '64m', pids: 32, fsize: '1m', nofile: 64, stack: '8m', output: '1k' } }, { host: aliceSubid });

  it('the stage gets LIMITS before it forks pid 1: CPU and wall in us, output in bytes, relay on', () => {
    const plan = planRun(limited(), TOOLS);
    const limits = plan.find((o) => o.code === Op.LIMITS)!;
    expect(limits.ints).toEqual([1_500_000, 3_000_000, 1024, 1]);
    expect(limits.strs).toEqual(['', '0']); // no cgroup: CPU time from /proc
    expect(plan.indexOf(limits)).toBeLessThan(plan.findIndex((o) => o.code === Op.FORK_INIT));
  });

  it('without a cgroup, memory and pids fall back to RLIMIT_DATA and RLIMIT_NPROC; CPU gets a backstop', () => {
    const rl = planRun(limited(), TOOLS).filter((o) => o.code === Op.RLIMIT).map((o) => o.ints);
    expect(rl).toEqual([[4, 0, 0], [0, 3, 4], [2, 64 * 1024 * 1024, 64 * 1024 * 1024], [6, 32, 32], [1, 1024 * 1024, 1024 * 1024], [7, 64, 64], [3, 8 * 1024 * 1024, 8 * 1024 * 1024]]);
  });

  it('with a cgroup, the stage joins it first and reads its CPU time; no memory rlimit, the workload\'s own processes still by RLIMIT_NPROC', () => {
    const cgroup = {
      backend: 'cgroup2' as const, path: '/sys/fs/cgroup/x', joinFiles: ['/sys/fs/cgroup/x/cgroup.procs'],
      cpuUsage: { file: '/sys/fs/cgroup/x/cpu.stat', format: 'cgroup2' as const },
      collect: () => ({ peakMemoryBytes: null, oomKilled: false, cpuUs: null }), remove: () => {},
    };
    const plan = planRun(limited(), TOOLS, undefined, cgroup);
    expect(plan[0]!.code).toBe(Op.JOIN_CGROUP);
    expect(plan.find((o) => o.code === Op.LIMITS)!.strs).toEqual(['/sys/fs/cgroup/x/cpu.stat', '1']);
    expect(plan.filter((o) => o.code === Op.RLIMIT).map((o) => o.ints[0])).toEqual([4, 0, 6, 1, 7, 3]);
  });

  it('a cgroup that needs the stage\'s pid makes the stage wait first (SYNC)', () => {
    const cgroup = {
      backend: 'cgroup2' as const, path: '/x', joinFiles: ['/x/cgroup.procs'], cpuUsage: null,
      attach: async () => {}, collect: () => ({ peakMemoryBytes: null, oomKilled: false, cpuUs: null }), remove: () => {},
    };
    expect(planRun(limited(), TOOLS, undefined, cgroup).slice(0, 2).map((o) => o.code)).toEqual([Op.SYNC, Op.JOIN_CGROUP]);
  });

  it('each SYNC op carries its point\'s id, which the sandbox routes by', () => {
    const cgroup = {
      backend: 'cgroup2' as const, path: '/x', joinFiles: ['/x/cgroup.procs'], cpuUsage: null,
      attach: async () => {}, collect: () => ({ peakMemoryBytes: null, oomKilled: false, cpuUs: null }), remove: () => {},
    };
    const plan = planRun(resolve({ network: 'slirp4netns' }), TOOLS, undefined, cgroup);
    expect(plan.filter((o) => o.code === Op.SYNC).map((o) => o.ints)).toEqual([[SyncPoint.cgroup], [SyncPoint.network]]);
    const route = syncRouter(plan);
    expect(route(SyncPoint.network).ints).toEqual([SyncPoint.network]);
    expect(route(SyncPoint.cgroup).ints).toEqual([SyncPoint.cgroup]);
    expect(() => route(99)).toThrow(/unknown id 99/);
  });

  it('no limits and no accounting: no LIMITS op at all', () => {
    expect(planRun(resolve({}, { host: aliceSubid }), TOOLS).some((o) => o.code === Op.LIMITS)).toBe(false);
  });
});

describe('planRun for the isolate mode', () => {
  it('a tree given back after the run: opened before USERNS with the caller\'s rights, CHOWN_TREE after the run', () => {
    const spec = resolve({ volumes: ['/src:/box:rw'], chownAfterRun: { target: '/box', uid: 0, gid: 0 } }, { host: aliceSubid });
    const plan = planRun(spec, TOOLS);
    const open = plan.findIndex((o) => o.code === Op.OPEN_DIR);
    const userns = plan.findIndex((o) => o.code === Op.USERNS);
    const chown = plan.findIndex((o) => o.code === Op.CHOWN_TREE);
    expect(plan[open]!.strs).toEqual(['/srv/real-src']);
    expect(open).toBeLessThan(userns);
    expect(chown).toBeGreaterThan(userns);
    expect(chown).toBeLessThan(plan.findIndex((o) => o.code === Op.FORK_INIT));
    expect(plan[chown]!.ints).toEqual([plan[open]!.ints[0], 0, 0, 1]);
  });

  it('an address space limit is RLIMIT_AS (9) of the workload', () => {
    const plan = planRun(resolve({ limits: { addressSpace: 1024 * 1024 } }, { host: aliceSubid }), TOOLS);
    expect(plan.filter((o) => o.code === Op.RLIMIT).map((o) => o.ints)).toContainEqual([9, 1024 * 1024, 1024 * 1024]);
  });
});

describe('the start gate (sandbox-oci create/start)', () => {
  const bpf = { programs: [new Uint8Array(8)], flags: 0 };
  const gated = (noNewPrivileges: boolean, filters = bpf) => {
    const spec = resolve({ noNewPrivileges }, { host: aliceSubid });
    return { plain: planRun(spec, TOOLS, filters), plan: withStartGate(planRun(spec, TOOLS, filters), '/run/c1/exec.fifo', noNewPrivileges) };
  };

  it('without a FIFO the plan is the same, byte for byte', () => {
    const spec = resolve({}, { host: aliceSubid });
    expect(encodePlan(withStartGate(planRun(spec, TOOLS, bpf), undefined, true))).toEqual(encodePlan(planRun(spec, TOOLS, bpf)));
  });

  it('opens the FIFO first (the caller\'s rights, before USERNS) and waits after the identity, before a filter loaded last', () => {
    const { plain, plan } = gated(true);
    expect(plan).toHaveLength(plain.length + 2);
    expect(brief(plan[0]!)).toEqual([Op.OPEN_GATE, [START_GATE_FD], ['/run/c1/exec.fifo']]);
    expect(plan.findIndex((o) => o.code === Op.OPEN_GATE)).toBeLessThan(plan.findIndex((o) => o.code === Op.USERNS));
    expect(plan.slice(-6).map((o) => o.code)).toEqual([Op.SET_IDS, Op.DROP_CAPS, Op.NO_NEW_PRIVS, Op.WAIT_START, Op.SECCOMP, Op.EXEC]);
    expect(plan.find((o) => o.code === Op.WAIT_START)!.ints).toEqual([START_GATE_FD]);
    // everything else in its place
    expect(plan.filter((o) => o.code !== Op.OPEN_GATE && o.code !== Op.WAIT_START)).toEqual(plain);
  });

  it('without no_new_privs (filter first) or without a filter: right before EXEC', () => {
    expect(gated(false).plan.slice(-5).map((o) => o.code)).toEqual([Op.SECCOMP, Op.SET_IDS, Op.DROP_CAPS, Op.WAIT_START, Op.EXEC]);
    expect(gated(true, { programs: [], flags: 0 }).plan.slice(-3).map((o) => o.code)).toEqual([Op.NO_NEW_PRIVS, Op.WAIT_START, Op.EXEC]);
  });

  it('the workload waits after FORK_WORKLOAD, in its own process', () => {
    const { plan } = gated(true);
    expect(plan.findIndex((o) => o.code === Op.WAIT_START)).toBeGreaterThan(plan.findIndex((o) => o.code === Op.FORK_WORKLOAD));
  });

  it('a plan without EXEC cannot have a gate', () => {
    expect(() => withStartGate([], '/f', true)).toThrow('a start gate needs an EXEC op');
  });
});

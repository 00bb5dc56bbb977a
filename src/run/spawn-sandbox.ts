// run/: the run path shared by the CLI and the library: profile, host facts,
// RunSpec, plan, stage, result. Rejects/throws only before the stage starts.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { loadProfile } from '../config/load-profile.js';
import { SandboxError } from '../errors.js';
import { probeHost, type HostFacts } from '../host/probe-host.js';
import { startStage, type StageRun, type StageStdio } from '../launch/stage-client.js';
import { planRun, withStartGate } from '../launch/plan-run.js';
import type { ExecOptions } from '../resolve/exec-options.js';
import { resolveRunSpec, resolveRunUser, type InspectPath, type ResolveInput } from '../resolve/resolve-run-spec.js';
import { readHostResolvConf } from '../host/resolv-conf.js';
import { acquireUidSlot } from '../idmap/uid-slots.js';
import type { UidSlotRange } from '../idmap/plan-idmap.js';
import { checkMountRedirects } from '../rootfs/mount-redirects.js';
import type { RunSpec } from '../resolve/run-spec.js';
import { probeHostImage } from '../rootfs/host-image.js';
import { filterContext, prepareSeccomp } from '../seccomp/prepare-seccomp.js';
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import { chooseCgroup, fallbackNote } from './choose-cgroup.js';
import type { ResolvedImage } from '../resolve/image-defaults.js';
import { fetchOptions, type ImageFetchOptions } from '../image/image-fetch-options.js';
import { acquireRunResources } from './run-resources.js';
import { toRunResult, type RunResult } from './run-result.js';
import type { StageOp } from '../stage/plan.js';
import { SyncPoint } from '../launch/plan-run.js';
import { isSandboxError } from '../errors.js';
import type { NetworkHelper } from '../network/helper-process.js';
import { needsHelper, startNetworkHelper } from '../network/start-network.js';
import { formatPublish } from '../network/publish.js';
import { phaseClock, type TraceSink } from './run-trace.js';
import { heldUsernsFor } from './held-userns.js';

export type StdioChoice = StageStdio;

export interface SpawnOptions extends ExecOptions {
  /** stdin, stdout, stderr of the workload. Default: stdin "ignore" ("inherit" with interactive), others "inherit". */
  readonly stdio?: readonly [StdioChoice?, StdioChoice?, StdioChoice?];
  /** Aborting kills the sandbox; the result then says SG with SIGKILL. */
  readonly signal?: AbortSignal;
  /** Image store directory (default: $SANDBOX_STORE, else $XDG_DATA_HOME/rootless-sandbox/store; root: /var/lib/rootless-sandbox/store). */
  readonly store?: string;
  /** How an image that is not stored is found (see ImageFetchOptions). */
  readonly pull?: ImageFetchOptions['pull'];
  readonly platform?: ImageFetchOptions['platform'];
  readonly tlsVerify?: ImageFetchOptions['tlsVerify'];
  /** A progress callback for pulls and loads (ImageFetchOptions' progress). */
  readonly pullProgress?: ImageFetchOptions['progress'];
  /** auto (default: $SANDBOX_OVERLAY, else native where the kernel allows it), native or fuse (fuse-overlayfs). */
  readonly overlay?: string;
  /** Called as each phase of the run ends, with its duration (see RUN_PHASES): where the time goes. */
  readonly trace?: TraceSink;
  /**
   * Called with the resolved spec (its id map included) just before the stage
   * starts; a rejection ends the run before anything ran. The isolate mode
   * gives a root caller's box to the workload's host id here.
   */
  readonly beforeStart?: (spec: RunSpec) => void | Promise<void>;
  /**
   * A start gate (sandbox-oci create): the workload stops just before exec until
   * something opens `fifo` (an existing FIFO, mode 0622) for reading and reads
   * one byte; `onGate` is called with its host pid when it waits there. The
   * run's limits count from exec, after the gate.
   */
  readonly startGate?: { readonly fifo: string; readonly onGate: (workloadPid: number) => void };
}

/** A running sandbox: the stage's pid and stdio (see StageRun), its spec and its result. */
export interface SandboxProcess extends Pick<StageRun, 'pid' | 'stdin' | 'stdout' | 'stderr'> {
  readonly spec: RunSpec;
  /** Resolves once the workload has been executed; never if set-up failed. */
  readonly started: Promise<void>;
  readonly result: Promise<RunResult>;
  /** Passes a signal on to the workload (SIGKILL ends the whole sandbox at once). */
  kill(signal?: NodeJS.Signals): void;
}

const inspectPath: InspectPath = (path) => {
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    return { real, kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return code === 'ENOENT' || code === 'ENOTDIR' ? null : { error: code };
  }
};

function readEnvFiles(files: readonly string[]): { file: string; text: string }[] {
  return files.map((file) => {
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (e) {
      throw new SandboxError('usage', `cannot read env file ${file} (--env-file): ${(e as NodeJS.ErrnoException).code ?? e}`, 'check the path');
    }
  });
}

/** What resolve takes besides the options: read off the host and the caller. */
function resolveInput(options: ExecOptions, host: HostFacts, image: ResolvedImage | null | undefined): ResolveInput {
  return {
    options,
    profile: loadProfile(options.profile ?? 'default'),
    host,
    layout: probeHostImage(),
    callerEnv: process.env,
    envFiles: readEnvFiles(options.envFiles ?? []),
    inspectPath,
    hostResolvConf: readHostResolvConf(),
    ...(image && { image }),
  };
}

/**
 * Resolves everything a run needs without starting it. Given the uid slot the
 * run holds (spawnSandbox acquires it), this is exactly the spec that runs;
 * without, the id map spans the caller's whole range.
 */
export function prepareRun(options: ExecOptions, host: HostFacts = probeHost(), image?: ResolvedImage | null, slot?: UidSlotRange | null): RunSpec {
  return resolveRunSpec({ ...resolveInput(options, host, image), ...(slot !== undefined && { slot }) });
}

let runCounter = 0;
/** Unique among concurrent runs on this host (cgroup names, lock files). */
function newRunId(): string {
  return `${process.pid}-${++runCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

function stageStdio(spec: RunSpec, stdio: SpawnOptions['stdio'] = []): StageStdio[] {
  const [stdin, stdout, stderr] = stdio;
  const out = stdout ?? 'inherit';
  // without the relay, "stderr to stdout" is the same destination for both
  const err = spec.output.mergeStderr && !spec.output.relay ? (out === 'inherit' ? 1 : out) : stderr ?? 'inherit';
  return [stdin ?? (spec.interactive ? 'inherit' : 'ignore'), out, err];
}

export async function spawnSandbox(options: SpawnOptions): Promise<SandboxProcess> {
  const lap = phaseClock(options.trace);
  const host = probeHost();
  lap('host facts');
  const ref = options.image ?? 'host';
  // the image code (store, registry, unpacker) is loaded only for an image: start-up of host runs
  const image = ref === 'host' ? null : await (await import('./prepare-image.js')).prepareImage(ref, {
    host,
    ...(options.store && { store: options.store }),
    ...(options.overlay && { overlay: options.overlay }),
    ...fetchOptions({ ...options, ...(options.pullProgress && { progress: options.pullProgress }) }),
  });
  lap('image');
  const input = resolveInput(options, host, image);
  // a host-image run takes its uid slot before resolving, so the spec's id map is the one that runs
  const slot = image ? undefined : await acquireUidSlot(host, { workload: resolveRunUser(input).user, ...(options.signal && { signal: options.signal }) });
  lap('uid slot');
  let spec: RunSpec;
  try {
    spec = resolveRunSpec({ ...input, ...(slot !== undefined && { slot }) });
    // an image symlink must not send a mount onto the root (read off the layers, so not in the pure validateRunSpec)
    checkMountRedirects(spec);
  } catch (e) {
    slot?.release();
    throw e;
  }
  lap('resolve');
  // an image run's writable layer is made on the thread pool while this thread finds the filter
  const acquiring = acquireRunResources(spec, host, options, slot);
  let seccomp: ReturnType<typeof prepareSeccomp>;
  try {
    seccomp = prepareSeccomp(spec.seccomp, filterContext(spec.network.mode !== 'none', spec.capabilities, host));
  } catch (e) {
    await acquiring.then((r) => r.release(), () => {});
    throw e;
  }
  lap('seccomp');
  const resources = await acquiring;
  const { writable } = resources;
  lap('resources');
  let cgroup: CgroupChoice;
  try {
    cgroup = await chooseCgroup(spec.limits, newRunId());
  } catch (e) {
    await resources.release();
    throw e;
  }
  lap('cgroup');
  const release = async () => {
    if (cgroup.backend !== 'none') cgroup.remove();
    await resources.release();
  };
  let handle: StageRun;
  let plan: StageOp[];
  // the network helper: started at its SYNC, stopped when the run ends
  let helper: NetworkHelper | undefined;
  let helperError: unknown;
  // routed by the SYNC op's id (launchStage rejects an id the plan does not have)
  const onSync = async (stagePid: number, syncId: number, op: StageOp) => {
    if (syncId === SyncPoint.cgroup && cgroup.backend !== 'none' && cgroup.attach) return cgroup.attach(stagePid);
    if (syncId === SyncPoint.network) {
      try {
        helper = await startNetworkHelper(spec.network, stagePid);
      } catch (e) {
        helperError = e;
        throw e;
      }
      return;
    }
    // internal invariant: the plan's sync points are the ones this loop answers
    throw new Error(`no one waits for the stage at SYNC ${syncId} ("${op.what}")`);
  };
  try {
    await options.beforeStart?.(spec);
    // a run with its own slot maps it inside this process's held user namespace once there is one
    plan = withStartGate(planRun(spec, host, seccomp, cgroup, writable, slot ? heldUsernsFor(host) : null),
      options.startGate?.fifo, spec.noNewPrivileges);
    lap('plan');
    const syncs = (cgroup.backend !== 'none' && cgroup.attach) || needsHelper(spec.network);
    handle = startStage(plan, {
      stdio: stageStdio(spec, options.stdio),
      ...(syncs && { onSync }),
      ...(options.signal && { signal: options.signal }),
      ...(options.startGate && { onGate: options.startGate.onGate }),
    });
  } catch (e) {
    await release();
    throw e;
  }
  void handle.started.then((times) => lap.stage(times));
  const result = handle.outcome.then(async (outcome) => {
    lap('workload');
    // signalled now, not waited for: its exit is the kernel removing the tap
    // device (~20-30 ms); it has nothing left to do, and dies with this process
    void helper?.stop();
    const usage = cgroup.backend !== 'none' ? cgroup.collect() : undefined;
    // the stage empties the writable layer after it has reported a failed set-up too
    if (writable) await handle.ended;
    await release();
    const network = {
      mode: spec.network.mode,
      ...(helper ? { helper: { binary: helper.binary, pid: helper.pid } } : {}),
      ...(needsHelper(spec.network) && spec.network.publish.length > 0 ? { publish: spec.network.publish.map(formatPublish) } : {}),
    };
    const ctx = {
      spec, plan, seccomp: seccomp.policy, backend: cgroup.backend, usage, network,
      backendNote: cgroup.backend === 'none' ? fallbackNote(cgroup.reason, spec.limits) : undefined,
    };
    if (handle.aborted() && outcome.kind === 'lost') {
      return { ...toRunResult(outcome, ctx), status: 'SG', exitCode: 137, signal: 'SIGKILL', error: undefined } as RunResult;
    }
    const r = toRunResult(outcome, ctx);
    lap('teardown');
    // the helper's own words and hint, rather than "the stage was lost"
    if (outcome.kind === 'lost' && isSandboxError(helperError)) {
      return { ...r, error: { message: helperError.message, ...(helperError.hint ? { hint: helperError.hint } : {}), errno: 'none' } };
    }
    return r;
  });
  return {
    pid: handle.pid,
    spec,
    stdin: handle.stdin,
    stdout: handle.stdout,
    stderr: handle.stderr,
    started: handle.started.then(() => {}),
    result,
    kill: (signal = 'SIGTERM') => handle.kill(signal),
  };
}

/** Runs a command in a fresh sandbox and resolves to its result. */
export async function exec(options: SpawnOptions): Promise<RunResult> {
  return (await spawnSandbox(options)).result;
}

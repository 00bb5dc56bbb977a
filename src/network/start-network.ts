// Starts the helper a RunSpec's network asks for, against the stage's
// namespaces (at the SYNC after UNSHARE: they exist, the workload does not).
import type { NetworkSpec } from './resolve-network.js';
import type { NetworkHelper } from './helper-process.js';
import { startPasta } from './pasta.js';
import { startSlirp4netns } from './slirp4netns.js';

export function needsHelper(spec: NetworkSpec): spec is Extract<NetworkSpec, { mode: 'pasta' | 'slirp4netns' }> {
  return spec.mode === 'pasta' || spec.mode === 'slirp4netns';
}

export function startNetworkHelper(spec: NetworkSpec, stagePid: number): Promise<NetworkHelper> {
  if (spec.mode === 'pasta') return startPasta(spec, stagePid);
  if (spec.mode === 'slirp4netns') return startSlirp4netns(spec, stagePid);
  // internal invariant: callers check needsHelper first
  throw new Error(`network mode ${spec.mode} has no helper`);
}

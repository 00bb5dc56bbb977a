// This process's holder user namespace (idmap/holder-userns.ts): made in the
// background at the second run that could use it, then handed to every run
// of the same caller. Until it is ready, or when it cannot be made, runs map
// through newuidmap/newgidmap as before (the failure is kept: no retry).
import type { HostFacts } from '../host/probe-host.js';
import { holderMaps, holdUserns, type HolderUserns } from '../idmap/holder-userns.js';
import { planUserns, SyncPoint } from '../launch/plan-run.js';
import { startStage } from '../launch/stage-client.js';
import { ops } from '../stage/plan.js';

let uses = 0;
let held: HolderUserns | null = null;
let state: 'none' | 'making' | 'ready' | 'failed' = 'none';

async function makeHolder(host: HostFacts): Promise<HolderUserns> {
  const maps = holderMaps(host)!;
  let opened: HolderUserns | undefined;
  const plan = [
    ...planUserns({ mode: 'subid', method: 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0, ...maps }, host),
    ops.sync(SyncPoint.holder, 'wait while the sandbox opens the user namespace (GO)'),
  ];
  const run = startStage(plan, { stdio: ['ignore', 'ignore', 'ignore'], onSync: async (pid) => { opened = holdUserns(pid, host); } });
  const outcome = await run.outcome;
  if (outcome.kind !== 'completed' || !opened) throw new Error(`the holder user namespace could not be made (${outcome.kind})`);
  return opened;
}

/** The holder for this caller if it is ready, else null (and it is started once a second run asks). */
export function heldUsernsFor(host: HostFacts): HolderUserns | null {
  if (process.env.SANDBOX_NESTED_USERNS === '0' || !holderMaps(host)) return null;
  if (state === 'ready') {
    const same = held!.uid === host.uid && held!.subuidStart === host.subuid!.start && held!.subgidStart === host.subgid!.start
      && held!.count === Math.min(host.subuid!.count, host.subgid!.count);
    return same ? held : null;
  }
  if (state === 'none' && ++uses >= 2) {
    state = 'making';
    makeHolder(host).then((h) => { held = h; state = 'ready'; }, () => { state = 'failed'; });
  }
  return null;
}

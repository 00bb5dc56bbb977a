// The stage plan of the unpack worker: chdir as the caller first, then the
// user namespace with the image map, uid 0, its own pid namespace, the worker.
import { describe, expect, it } from 'vitest';
import { planImageIdMap } from '../../../../src/idmap/image-idmap.js';
import { planWorker, unpackWorkerPath } from '../../../../src/image/unpack/userns-worker.js';
import { CLONE } from '../../../../src/stage/plan.js';
import { Op } from '../../../../src/stage/protocol.js';
import { aliceSubid, rootSubid } from '../../support/fixtures.js';

describe('planWorker', () => {
  it('non-root: chdir, userns, newuidmap/newgidmap with the image map, 0:0, pid+net+ipc, init, worker, exec node', () => {
    const plan = planWorker({ op: 'remove', names: ['a'] }, { cwd: '/store/layers', idmap: planImageIdMap(aliceSubid), host: aliceSubid });
    expect(plan.map((o) => o.code)).toEqual([Op.CHDIR, Op.USERNS, Op.MAP_EXEC, Op.MAP_EXEC, Op.SETUP_IDS, Op.UNSHARE, Op.FORK_INIT, Op.FORK_WORKLOAD, Op.NO_NEW_PRIVS, Op.EXEC]);
    expect(plan[0]!.strs).toEqual(['/store/layers']);
    expect(plan[2]!.strs).toEqual(['/usr/bin/newuidmap', '0', '1000', '1', '1', '100000', '65535']);
    expect(plan[4]!.ints).toEqual([0, 0]);
    expect(plan[5]!.ints).toEqual([CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC]);
    expect(plan[9]!.strs).toEqual([process.execPath, '', process.execPath, unpackWorkerPath(), '{"op":"remove","names":["a"]}']);
  });

  it("root: the maps are written directly, inside 0 is root's range", () => {
    const plan = planWorker({ op: 'unpack', options: {} }, { cwd: '/x', idmap: planImageIdMap(rootSubid), host: rootSubid });
    expect(plan.filter((o) => o.code === Op.MAP_WRITE).map((o) => o.strs)).toEqual([['uid_map', '0 200000 65536\n'], ['gid_map', '0 400000 65536\n']]);
  });
});

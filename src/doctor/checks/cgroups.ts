// Doctor check 5: which cgroup backend runs get (the choice prepareCgroup
// makes) and, for a systemd scope, whether the manager answers.
import { probeCgroupFacts, type CgroupFacts } from '../../cgroup/cgroup-facts.js';
import { explainOwnCgroup, type BackendChoice } from '../../cgroup/choose-cgroup-backend.js';
import { detectCgroupBackend } from '../../cgroup/prepare-cgroup.js';
import { readManagerVersion } from '../../cgroup/systemd-scope.js';
import { asAdmin, check, isRoot, quoteShell, type Caller, type DoctorCheck } from '../doctor-check.js';

/** What the cgroup check is made of: the facts, the backend runs would get (the same choice prepareCgroup makes), and for a scope whether the manager answers. */
export interface CgroupCheckFacts {
  facts: CgroupFacts;
  choice: BackendChoice;
  /** Only for the scope backend: the manager's version, or why it did not answer. */
  manager?: { version: string } | { error: string };
}

const FALLBACK = 'limits fall back to rlimits (memory per process, not per tree)';

function cgroupFixes(f: CgroupCheckFacts, caller: Caller): string | undefined {
  const root = isRoot(caller);
  const { facts } = f;
  if (facts.top !== 'cgroup2' && facts.mounts.length === 0) return asAdmin('mount -t cgroup2 none /sys/fs/cgroup', root);
  if (facts.top !== 'cgroup2') {
    if (!root) {
      return [
        '# boot with the unified cgroup hierarchy (debian/ubuntu with grub):',
        `${asAdmin(`sed -i 's/^GRUB_CMDLINE_LINUX="/&systemd.unified_cgroup_hierarchy=1 /' /etc/default/grub`, root)} && ${asAdmin('update-grub', root)} && ${asAdmin('reboot', root)}`,
        `# fedora/rhel: ${asAdmin('grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1', root)}`,
      ].join('\n');
    }
    const missing = (['memory', 'pids'] as const).filter((c) => !facts.v1.some((h) => h.controller === c));
    return missing.length
      ? missing.map((c) => `mkdir -p /sys/fs/cgroup/${c} && mount -t cgroup -o ${c} cgroup /sys/fs/cgroup/${c}`).join('\n')
      : undefined;
  }
  const s = facts.systemd;
  const delegate = `${asAdmin('mkdir -p /etc/systemd/system/user@.service.d', root)} && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | ${asAdmin('tee /etc/systemd/system/user@.service.d/delegate.conf', root)} && ${asAdmin('systemctl daemon-reload', root)}`;
  if (!s || !s.booted) {
    return '# without systemd: start the sandbox from a process in a leaf cgroup whose (writable) parent has memory and pids in cgroup.subtree_control';
  }
  if (!s.socketExists) {
    return s.manager === 'user'
      ? [`# start a systemd user manager for ${caller.name ?? `uid ${caller.uid}`} that outlives logins:`,
        asAdmin(`loginctl enable-linger ${quoteShell(caller.name ?? String(caller.uid))}`, root),
        `# and run the sandbox with XDG_RUNTIME_DIR=/run/user/${caller.uid} (a login through pam_systemd sets it)`].join('\n')
      : undefined;
  }
  if (f.manager && 'error' in f.manager) return s.manager === 'user' ? 'systemctl --user status' : 'systemctl status';
  return ['# delegate the controllers to every user manager (then log in again):', delegate].join('\n');
}

export function evaluateCgroups(f: CgroupCheckFacts, caller: Caller): DoctorCheck {
  const id = 'cgroups';
  const title = 'cgroups';
  const { facts, choice } = f;
  const hybrid = facts.mounts.some((m) => m.fstype === 'cgroup2') ? ' (hybrid: a cgroup2 hierarchy is mounted too)' : '';
  switch (choice.kind) {
    case 'none':
      return check(id, title, 'warn', `${choice.reason}: ${FALLBACK}`, cgroupFixes(f, caller));
    case 'cgroup1': {
      const names = choice.hierarchies.flatMap((h) => h.controllers);
      const noCpu = names.includes('cpuacct') ? '' : '; cpuacct is not mounted, so CPU time is summed from /proc';
      return check(id, title, 'ok',
        `cgroup v1 controllers: ${names.join(', ')}${hybrid}; each run gets rootless-sandbox-ID below this process's own cgroup in ${choice.hierarchies.map((h) => h.dir).join(', ')}${noCpu}`);
    }
    case 'cgroup2-delegated':
      return check(id, title, 'ok',
        `cgroup v2, delegated: each run gets a sibling of this process's cgroup in ${choice.parentDir} (its cgroup.subtree_control: ${choice.controllers.join(' ')}), with no call to systemd`);
    case 'cgroup2-scope': {
      const who = choice.manager === 'user' ? `the systemd user manager of uid ${facts.uid}` : 'the systemd system manager';
      const how = `${explainOwnCgroup(facts)}; so each run asks ${who} for a transient scope rootless-sandbox-ID.scope in ${choice.slice} with Delegate=yes around the stage (one call on ${choice.socket} per run) and makes its cgroup inside (controllers it can give: ${choice.controllers.join(' ')})`;
      if (f.manager && 'error' in f.manager) {
        return check(id, title, 'warn', `cgroup v2: ${how}, but ${who} did not answer: ${f.manager.error}: ${FALLBACK}`, cgroupFixes(f, caller));
      }
      const version = f.manager ? ` (systemd ${f.manager.version})` : '';
      return check(id, title, 'ok', `cgroup v2${version}: ${how}`);
    }
  }
}

export async function checkCgroups(caller: Caller): Promise<DoctorCheck> {
  const facts = probeCgroupFacts();
  const choice = detectCgroupBackend(facts);
  let manager: CgroupCheckFacts['manager'];
  if (choice.kind === 'cgroup2-scope') {
    try {
      manager = { version: await readManagerVersion(choice.socket, facts.uid, 5000) };
    } catch (e) {
      manager = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return evaluateCgroups({ facts, choice, ...(manager ? { manager } : {}) }, caller);
}

// Doctor check 1: can the caller create user namespaces (the kernel's
// max_user_namespaces, Debian's unprivileged_userns_clone, Ubuntu's AppArmor
// restriction), with the sysctl or AppArmor fix.
import { stagePath } from '../../launch/stage-path.js';
import { asAdmin, check, isRoot, quoteShell, readTrimmed, type Caller, type DoctorCheck } from '../doctor-check.js';

export interface UserNamespaceSysctls {
  /** /proc/sys/user/max_user_namespaces; null when the file is absent (kernel without CONFIG_USER_NS). */
  maxUserNamespaces: string | null;
  /** /proc/sys/kernel/unprivileged_userns_clone (Debian/older Ubuntu kernels); null when absent. */
  unprivilegedUsernsClone: string | null;
  /** /proc/sys/kernel/apparmor_restrict_unprivileged_userns (Ubuntu 23.10+); null when absent. */
  apparmorRestrictUnprivilegedUserns: string | null;
}

const SYSCTL_DROPIN = '/etc/sysctl.d/90-rootless-sandbox.conf';

function persistSysctl(setting: string, root: boolean): string {
  return `echo '${setting}' | ${asAdmin(`tee -a ${SYSCTL_DROPIN}`, root)}`;
}

/** The AppArmor profile that lets only the stage (the process that unshares CLONE_NEWUSER) create user namespaces. */
export function renderAppArmorFix(stage: string, root: boolean): string {
  const profile = `abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile rootless-sandbox-stage ${stage.replace(/%/g, '%%')} flags=(unconfined) {\\n  userns,\\n}\\n`;
  const file = '/etc/apparmor.d/rootless-sandbox-stage';
  return `printf ${quoteShell(profile)} | ${asAdmin(`tee ${file}`, root)} && ${asAdmin(`apparmor_parser -r ${file}`, root)}`;
}

export function evaluateUserNamespaces(s: UserNamespaceSysctls, ctx: { root: boolean; stagePath: string }): DoctorCheck {
  const id = 'userns';
  const title = 'unprivileged user namespaces';
  if (s.maxUserNamespaces === null) {
    return check(id, title, 'fail', '/proc/sys/user/max_user_namespaces is missing: the kernel has no user namespaces',
      '# boot a kernel built with CONFIG_USER_NS=y');
  }
  const problems: string[] = [];
  const notes: string[] = [];
  const fixes: string[] = [];
  const max = Number(s.maxUserNamespaces);
  notes.push(`user.max_user_namespaces=${s.maxUserNamespaces}`);
  if (!(max > 0)) {
    problems.push(`user.max_user_namespaces is ${s.maxUserNamespaces}: nobody can create user namespaces`);
    fixes.push(asAdmin('sysctl -w user.max_user_namespaces=15000', ctx.root),
      persistSysctl('user.max_user_namespaces=15000', ctx.root));
  }
  if (s.unprivilegedUsernsClone !== null) {
    notes.push(`kernel.unprivileged_userns_clone=${s.unprivilegedUsernsClone}`);
    if (s.unprivilegedUsernsClone === '0') {
      if (ctx.root) notes.push('(does not apply to root)');
      else {
        problems.push('kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces');
        fixes.push(asAdmin('sysctl -w kernel.unprivileged_userns_clone=1', ctx.root),
          persistSysctl('kernel.unprivileged_userns_clone=1', ctx.root));
      }
    }
  }
  if (s.apparmorRestrictUnprivilegedUserns !== null) {
    notes.push(`kernel.apparmor_restrict_unprivileged_userns=${s.apparmorRestrictUnprivilegedUserns}`);
    if (s.apparmorRestrictUnprivilegedUserns === '1') {
      if (ctx.root) notes.push('(does not apply to root)');
      else {
        problems.push('kernel.apparmor_restrict_unprivileged_userns is 1: apparmor denies user namespaces to unconfined programs');
        fixes.push(asAdmin('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0', ctx.root),
          persistSysctl('kernel.apparmor_restrict_unprivileged_userns=0', ctx.root),
          `# or, instead, allow user namespaces only for the stage ${ctx.stagePath}:`,
          renderAppArmorFix(ctx.stagePath, ctx.root));
      }
    }
  }
  if (problems.length > 0) return check(id, title, 'fail', problems.join('; '), fixes.join('\n'));
  return check(id, title, 'ok', notes.join(', '));
}

export function checkUserNamespaces(caller: Caller): DoctorCheck {
  return evaluateUserNamespaces({
    maxUserNamespaces: readTrimmed('/proc/sys/user/max_user_namespaces'),
    unprivilegedUsernsClone: readTrimmed('/proc/sys/kernel/unprivileged_userns_clone'),
    apparmorRestrictUnprivilegedUserns: readTrimmed('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
  }, { root: isRoot(caller), stagePath: stagePath() });
}

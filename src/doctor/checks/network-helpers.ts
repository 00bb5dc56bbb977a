// Doctor check 6: pasta and slirp4netns in PATH and a usable /dev/net/tun.
import { constants } from 'node:fs';
import { canAccess, findInPath } from '../../host/probe-host.js';
import { asAdmin, check, isRoot, type Caller, type DoctorCheck } from '../doctor-check.js';

export function evaluateNetworkHelper(name: 'pasta' | 'slirp4netns', path: string | null, root: boolean): DoctorCheck {
  const id = `net-${name}`;
  const title = `network helper ${name}`;
  if (path !== null) return check(id, title, 'ok', `${name} at ${path}`);
  const pkg = name === 'pasta' ? 'passt' : 'slirp4netns';
  return check(id, title, 'warn', `${name} not found in PATH: --network ${name} is refused`,
    `${asAdmin(`apt-get install ${pkg}`, root)}\n# fedora/rhel: ${asAdmin(`dnf install ${pkg}`, root)}`);
}

export function evaluateTun(f: { exists: boolean; usable: boolean }, root: boolean): DoctorCheck {
  const id = 'net-tun';
  const title = '/dev/net/tun';
  if (!f.exists) {
    return check(id, title, 'warn', '/dev/net/tun does not exist: pasta and slirp4netns cannot create the sandbox\'s interface',
      asAdmin('modprobe tun', root));
  }
  if (!f.usable) {
    return check(id, title, 'warn', '/dev/net/tun is not readable and writable by the caller: pasta and slirp4netns cannot create the sandbox\'s interface',
      asAdmin('chmod 0666 /dev/net/tun', root));
  }
  return check(id, title, 'ok', '/dev/net/tun is readable and writable');
}

export function checkNetworkHelpers(caller: Caller): DoctorCheck[] {
  const root = isRoot(caller);
  return [
    evaluateNetworkHelper('pasta', findInPath('pasta'), root),
    evaluateNetworkHelper('slirp4netns', findInPath('slirp4netns'), root),
    evaluateTun({
      exists: canAccess('/dev/net/tun', constants.F_OK),
      usable: canAccess('/dev/net/tun', constants.R_OK | constants.W_OK),
    }, root),
  ];
}

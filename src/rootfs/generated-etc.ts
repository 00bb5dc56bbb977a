// The /etc files every sandbox gets written fresh (never the host's): the
// hostname, the hosts file, resolv.conf when the sandbox has a network, and
// for the `host` image the users and groups that exist inside (an OCI image
// keeps its own /etc/passwd and /etc/group).
import type { RunSpec } from '../resolve/run-spec.js';

export function generatedEtcFiles(spec: RunSpec): { path: string; content: string }[] {
  const { uid, gid, name, home } = spec.user;
  const passwd = ['root:x:0:0:root:/root:/bin/sh'];
  const group = ['root:x:0:', 'tty:x:5:'];
  if (uid !== 0) passwd.push(`${name}:x:${uid}:${gid}:${name}:${home}:/bin/sh`);
  if (gid !== 0 && gid !== 5 && gid !== 65534) group.push(`sandbox:x:${gid}:`);
  passwd.push('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin');
  group.push('nogroup:x:65534:');
  const resolv = 'resolvConf' in spec.network ? [{ path: '/etc/resolv.conf', content: spec.network.resolvConf }] : [];
  const users = spec.image.kind === 'host'
    ? [{ path: '/etc/passwd', content: passwd.join('\n') + '\n' }, { path: '/etc/group', content: group.join('\n') + '\n' }]
    : [];
  return [
    ...users,
    ...resolv,
    { path: '/etc/hostname', content: `${spec.hostname}\n` },
    {
      path: '/etc/hosts',
      content: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${spec.hostname}\n`,
    },
  ];
}

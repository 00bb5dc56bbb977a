// A kernel pipe for Node, through koffi (Node's own "pipe" stdio is a socket
// pair): pasta writes its pid file when it is ready, and a socket cannot be
// opened by path (/dev/fd/N), a pipe can.
import { errnoName } from '../errno-name.js';
import { SandboxError } from '../errors.js';
import { loadKoffi } from '../idmap/flock.js';

const O_CLOEXEC = 0o2000000;
let pipe2: ((fds: number[], flags: number) => number) | undefined;
let errno: (() => number) | undefined;

/** Both ends close-on-exec: a child gets one only when it is passed in stdio. */
export function openPipe(): { read: number; write: number } {
  if (!pipe2) {
    const koffi = loadKoffi();
    pipe2 = koffi.load(null).func('int pipe2(_Out_ int *fds, int flags)') as (fds: number[], flags: number) => number;
    errno = () => koffi.errno();
  }
  const fds = [-1, -1];
  if (pipe2!(fds, O_CLOEXEC) !== 0) {
    // EMFILE/ENFILE: the process or the system is out of file descriptors
    throw new SandboxError('host', `cannot make a pipe for the network helper: pipe2: ${errnoName(errno!())}`,
      'too many open files: close some, or raise the limit (ulimit -n; fs.file-max)');
  }
  return { read: fds[0]!, write: fds[1]! };
}

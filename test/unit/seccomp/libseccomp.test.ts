// A missing or too old libseccomp is a host problem the CLI reports with a
// fix (SandboxError 'host' with a hint), not an internal error. Uses fakes:
// no library is loaded.
import { describe, expect, it } from 'vitest';
import { SandboxError } from '../../../src/errors.js';
import { openLibseccomp, requireLibseccompVersion } from '../../../src/seccomp/libseccomp.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('libseccomp on the host', () => {
  it('refuses a version older than 2.5 with an install hint', () => {
    const e = thrown(() => requireLibseccompVersion({ major: 2, minor: 4, micro: 4 }));
    expect(e).toBeInstanceOf(SandboxError);
    expect((e as SandboxError).code).toBe('host');
    expect((e as SandboxError).message).toBe('libseccomp 2.4.4 is too old: 2.5 or newer is needed');
    expect((e as SandboxError).hint).toMatch(/apt-get install libseccomp2/);
    expect(() => requireLibseccompVersion({ major: 1, minor: 9, micro: 0 })).toThrow(SandboxError);
  });

  it('accepts 2.5 and newer', () => {
    expect(() => requireLibseccompVersion({ major: 2, minor: 5, micro: 0 })).not.toThrow();
    expect(() => requireLibseccompVersion({ major: 3, minor: 0, micro: 0 })).not.toThrow();
  });

  it('reports a library the loader cannot find as a host problem with a hint', () => {
    const e = thrown(() => openLibseccomp(() => {
      throw new Error('Failed to load shared library: libseccomp.so.2: cannot open shared object file: No such file or directory');
    }));
    expect(e).toBeInstanceOf(SandboxError);
    expect((e as SandboxError).code).toBe('host');
    expect((e as SandboxError).message).toMatch(/^libseccomp\.so\.2 cannot be loaded: .*cannot open shared object file/);
    expect((e as SandboxError).hint).toMatch(/sandbox doctor/);
  });

  it('passes the library through when it loads', () => {
    const lib = { fake: true };
    expect(openLibseccomp((name) => (name === 'libseccomp.so.2' ? lib : null))).toBe(lib);
  });
});

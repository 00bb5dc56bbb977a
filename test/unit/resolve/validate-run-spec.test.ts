// validateRunSpec: a RunSpec checked as a whole, for meaning and for
// feasibility on the host, before anything is acquired or planned; and the
// uid slot given to resolve is the id map of the spec.
import { describe, expect, it } from 'vitest';
import { validateRunSpec, MAX_LAYERS } from '../../../src/resolve/validate-run-spec.js';
import type { RunSpec } from '../../../src/resolve/run-spec.js';
import { aliceSubid, aliceNoTools, refused, resolve, rootSubid } from '../support/fixtures.js';

const good = resolve({ command: ['/bin/true'] }, { host: aliceSubid });
const edit = (patch: Partial<RunSpec>): RunSpec => ({ ...good, ...patch });

describe('validateRunSpec', () => {
  it('passes a spec resolve made, and returns it', () => {
    expect(validateRunSpec(good, aliceSubid)).toBe(good);
  });

  it('refuses a missing command and NUL bytes the kernel would cut at', () => {
    expect(refused(() => validateRunSpec(edit({ argv: [] }), aliceSubid), 'usage').message).toBe('missing command');
    expect(refused(() => validateRunSpec(edit({ argv: ['a\0b'] }), aliceSubid)).message).toMatch(/argument 0 of the command contains a NUL/);
    expect(refused(() => validateRunSpec(edit({ env: ['A=x\0y'] }), aliceSubid)).message).toMatch(/environment variable A contains a NUL/);
    expect(refused(() => validateRunSpec(edit({ cwd: '/w\0' }), aliceSubid)).message).toMatch(/working directory/);
  });

  it('refuses a relative working directory', () => {
    expect(refused(() => validateRunSpec(edit({ cwd: 'tmp' }), aliceSubid), 'usage').message).toMatch(/not absolute \(-w\)/);
  });

  it('one mount per target, none over what the sandbox provides', () => {
    const tmp = good.tmpfs[0]!;
    expect(refused(() => validateRunSpec(edit({ tmpfs: [tmp, tmp] }), aliceSubid)).message).toBe(`two mounts on ${tmp.path}`);
    const vol = { source: '/srv', target: tmp.path, writable: false, kind: 'dir' as const };
    expect(refused(() => validateRunSpec(edit({ volumes: [vol] }), aliceSubid)).message).toBe(`two mounts on ${tmp.path}`);
    for (const target of ['/', '/proc', '/proc/sys', '/dev', '/dev/pts']) {
      expect(refused(() => validateRunSpec(edit({ volumes: [{ ...vol, target }] }), aliceSubid), 'usage').message).toBe(`cannot mount over ${target}`);
    }
    expect(refused(() => validateRunSpec(edit({ volumes: [{ ...vol, target: 'x' }] }), aliceSubid)).message).toMatch(/not an absolute path/);
  });

  it('the workload user must be in the id map', () => {
    const e = refused(() => validateRunSpec(edit({ user: { ...good.user, uid: 70000 } }), aliceSubid), 'usage');
    expect(e.message).toMatch(/user 70000:\d+ is not mapped/);
  });

  it('an id map written by newuidmap needs the tools on this host', () => {
    expect(good.idmap.method).toBe('newidmap');
    const e = refused(() => validateRunSpec(good, aliceNoTools), 'host');
    expect(e.message).toMatch(/newuidmap and newgidmap/);
    expect(e.hint).toMatch(/uidmap/);
  });

  it('an image needs 1 to MAX_LAYERS layers', () => {
    const image = {
      kind: 'oci' as const, ref: 'img', digest: '', layers: [] as string[], overlay: { kind: 'native' as const },
      proc: { maskFiles: [], maskDirs: [], readOnly: [] }, sys: { maskDirs: [] },
    };
    expect(refused(() => validateRunSpec(edit({ image }), aliceSubid), 'usage').message).toBe('image img has 0 layers');
    const many = { ...image, layers: Array.from({ length: MAX_LAYERS + 1 }, (_, i) => `/l/${i}`) };
    expect(refused(() => validateRunSpec(edit({ image: many }), aliceSubid)).hint).toMatch(/squash/);
    expect(validateRunSpec(edit({ image: { ...image, layers: ['/l/0'] } }), aliceSubid).image.kind).toBe('oci');
  });
});

describe('the uid slot is a fact of resolve', () => {
  const slot = { index: 3, count: 1, ids: 1024, uidStart: rootSubid.subuid!.start + 3 * 1024, gidStart: rootSubid.subgid!.start + 3 * 1024 };

  it('with a slot, the spec maps only that slot (the map that runs)', () => {
    const spec = resolve({}, { host: rootSubid, slot });
    expect(spec.idmap.slot).toEqual({ index: 3, count: 1 });
    expect(spec.idmap.uidMap).toEqual([{ inside: 0, outside: slot.uidStart, count: 1024 }]);
  });

  it('without one (a plan only), the whole range; null (cannot divide), the whole range with a note', () => {
    expect(resolve({}, { host: rootSubid }).idmap.uidMap).toEqual([{ inside: 0, outside: 200000, count: 65536 }]);
    const shared = resolve({}, { host: rootSubid, slot: null }).idmap;
    expect(shared.uidMap).toEqual([{ inside: 0, outside: 200000, count: 65536 }]);
    expect(shared.note).toMatch(/share its ids/);
  });

  it('a workload id outside the slot is refused at resolve', () => {
    expect(refused(() => resolve({ user: '2000:2000' }, { host: rootSubid, slot }), 'usage').message).toMatch(/does not exist inside the sandbox/);
  });
});

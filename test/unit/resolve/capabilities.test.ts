// Capability names and podman's merge of --cap-add and --cap-drop.
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../../src/config/load-profile.js';
import { capabilityMask, mergeCapabilities, normalizeCapability, PODMAN_DEFAULT_CAPS } from '../../../src/resolve/capabilities.js';
import { SandboxError } from '../../../src/errors.js';
import { handProfile, resolve } from '../support/fixtures.js';

const WHERE = { add: '--cap-add', drop: '--cap-drop' };
const merge = (add: string[], drop: string[], base = PODMAN_DEFAULT_CAPS) => mergeCapabilities(base, add, drop, WHERE);
const usage = (fn: () => unknown) => {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(SandboxError); return e as SandboxError; }
  throw new Error('did not throw');
};

describe('capability names', () => {
  it('take CAP_ or not, any case; ALL stays ALL', () => {
    expect(normalizeCapability('net_admin', 'x')).toBe('CAP_NET_ADMIN');
    expect(normalizeCapability('CAP_NET_ADMIN', 'x')).toBe('CAP_NET_ADMIN');
    expect(normalizeCapability('all', 'x')).toBe('ALL');
  });

  it('an unknown name is a usage error naming it and where it came from', () => {
    const e = usage(() => normalizeCapability('NET_ADMINN', '--cap-add'));
    expect(e.message).toBe('unknown capability "NET_ADMINN" (--cap-add)');
    expect(e.hint).toMatch(/NET_ADMIN/);
  });
});

describe('mergeCapabilities (podman\'s rules)', () => {
  it('podman\'s default set is CapEff 00000000800405fb', () => {
    expect(capabilityMask(PODMAN_DEFAULT_CAPS)).toBe(0x800405fbn);
  });

  it('adds and drops on the base, in bit order', () => {
    const caps = merge(['NET_ADMIN'], ['chown']);
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).not.toContain('CAP_CHOWN');
    expect(capabilityMask(caps)).toBe(0x800405fan | (1n << 12n));
  });

  it('drop ALL keeps only what is added; add ALL holds all but the dropped', () => {
    expect(merge([], ['ALL'])).toEqual([]);
    expect(merge(['SYS_ADMIN'], ['ALL'])).toEqual(['CAP_SYS_ADMIN']);
    const all = merge(['ALL'], ['SYS_MODULE']);
    expect(all).toHaveLength(40);
    expect(all).not.toContain('CAP_SYS_MODULE');
  });

  it('a capability both added and dropped is refused', () => {
    expect(usage(() => merge(['SETUID'], ['CAP_SETUID'])).message).toBe('capability CAP_SETUID is both added (--cap-add) and dropped (--cap-drop)');
  });
});

describe('resolveRunSpec capabilities', () => {
  it('absent from a profile: podman\'s default set; the profile adds and drops, the flags on top', () => {
    expect(resolve({}).capabilities).toEqual(PODMAN_DEFAULT_CAPS);
    const profile = handProfile({ capabilities: { add: ['NET_RAW'], drop: ['SETFCAP'] } });
    const caps = resolve({ capDrop: ['NET_RAW'], capAdd: ['SYS_TIME'] }, { profile }).capabilities;
    expect(caps).not.toContain('CAP_NET_RAW');
    expect(caps).not.toContain('CAP_SETFCAP');
    expect(caps).toContain('CAP_SYS_TIME');
  });

  it('strict holds none, and refuses --cap-add and no-new-privileges=false with its reason', () => {
    const strict = loadProfile('strict');
    expect(resolve({}, { profile: strict }).capabilities).toEqual([]);
    expect(resolve({ capDrop: ['ALL'] }, { profile: strict }).capabilities).toEqual([]);
    expect(usage(() => resolve({ capAdd: ['NET_ADMIN'] }, { profile: strict })).message).toBe('profile strict refuses --cap-add NET_ADMIN');
    expect(usage(() => resolve({ noNewPrivileges: false }, { profile: strict })).message).toBe('profile strict refuses --security-opt no-new-privileges=false');
    expect(resolve({ noNewPrivileges: false }).noNewPrivileges).toBe(false);
  });

  it('a bad name in a profile names the file and JSON pointer', () => {
    const profile = handProfile({ capabilities: { add: ['BOGUS'] } });
    expect(usage(() => resolve({}, { profile })).message).toBe('unknown capability "BOGUS" (/profiles/hand.json#/capabilities/add)');
  });
});

// Policies: found by name or path, validated against the schema; bad files
// are refused with the file and the JSON pointer of the offending field.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { listBuiltinPolicies, loadPolicy, parsePolicy, policyFile, UNCONFINED } from '../../../src/seccomp/load-policy.js';
import { policySchema } from '../../../src/seccomp/policy-schema.js';
import { refused } from '../support/fixtures.js';

const POLICIES = fileURLToPath(new URL('../../../policies/', import.meta.url));
const PODMAN = '/usr/share/containers/seccomp.json';
const dir = mkdtempSync(join(tmpdir(), 'sandbox-policy-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writePolicy(name: string, policy: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2));
  return file;
}

/** The message of loading `policy` from a temp file, which must be refused as config. */
function invalid(name: string, policy: unknown): { file: string; message: string } {
  const file = writePolicy(name, policy);
  return { file, message: refused(() => loadPolicy(file), 'config').message };
}

const ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'];

describe('loading by path', () => {
  it('names the policy after the file and keeps its text', () => {
    const text = '{ "defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ALLOW" }] }\n';
    const file = writePolicy('mine.json', text);
    expect(loadPolicy(file)).toEqual({
      name: 'mine', file, text,
      policy: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] },
    });
  });

  it('bad JSON is a config error naming the file', () => {
    const file = writePolicy('broken.json', '{ "defaultAction": ');
    const e = refused(() => loadPolicy(file), 'config');
    expect(e.message).toMatch(new RegExp(`^seccomp policy ${file} is not valid JSON: `));
  });

  it('a missing file is a config error naming it', () => {
    const file = join(dir, 'absent.json');
    expect(refused(() => loadPolicy(file), 'config').message).toBe(`cannot read seccomp policy ${file}: ENOENT`);
  });

  it('a directory is a config error too', () => {
    expect(refused(() => loadPolicy(`${dir}/`), 'config').message).toBe(`cannot read seccomp policy ${dir}: EISDIR`);
  });

  it('accepts null for the lists Go marshals as null', () => {
    const file = writePolicy('nulls.json', {
      defaultAction: 'SCMP_ACT_ALLOW', architectures: null, archMap: null, flags: null,
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_LOG', args: null }],
    });
    expect(loadPolicy(file).policy.architectures).toBeNull();
  });
});

describe('schema errors name the pointer', () => {
  it('an unknown action lists the allowed ones', () => {
    const { file, message } = invalid('action.json', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'ALLOW' }] });
    expect(message).toBe(`seccomp policy ${file} is invalid: /syscalls/0/action: must be one of ${ACTIONS.map((a) => `"${a}"`).join(', ')}`);
  });

  it('an unknown field in a rule', () => {
    const { file, message } = invalid('nmes.json', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ nmes: ['read'], action: 'SCMP_ACT_ALLOW' }] });
    expect(message).toBe(`seccomp policy ${file} is invalid: /syscalls/0/nmes: unknown field "nmes"`);
  });

  it('an unknown top-level field', () => {
    const { file, message } = invalid('top.json', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoret: 1 });
    expect(message).toBe(`seccomp policy ${file} is invalid: /defaultErrnoret: unknown field "defaultErrnoret"`);
  });

  it('an unknown field in includes', () => {
    const { file, message } = invalid('cond.json', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernal: '5.8' } }] });
    expect(message).toBe(`seccomp policy ${file} is invalid: /syscalls/0/includes/minKernal: unknown field "minKernal"`);
  });

  it('a comparison value above 2^53-1 is refused at its pointer', () => {
    const text = '{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",'
      + ' "args": [{ "index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ" }] }] }';
    const file = writePolicy('big.json', text);
    expect(refused(() => loadPolicy(file), 'config').message)
      .toBe(`seccomp policy ${file} is invalid: /syscalls/0/args/0/value: must be <= 9007199254740991`);
  });

  it('2^53 is refused, 2^53-1 accepted; valueTwo too', () => {
    const policy = (value: string, valueTwo = '0') => '{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",'
      + ` "args": [{ "index": 0, "value": ${value}, "valueTwo": ${valueTwo}, "op": "SCMP_CMP_MASKED_EQ" }] }] }`;
    expect(refused(() => loadPolicy(writePolicy('p53.json', policy('9007199254740992'))), 'config').message)
      .toContain('/syscalls/0/args/0/value: must be <= 9007199254740991');
    expect(refused(() => loadPolicy(writePolicy('p53b.json', policy('1', '9007199254740992'))), 'config').message)
      .toContain('/syscalls/0/args/0/valueTwo: must be <= 9007199254740991');
    expect(loadPolicy(writePolicy('p53ok.json', policy('9007199254740991'))).policy.syscalls![0]!.args![0]!.value).toBe(9007199254740991);
  });

  it('argument index 6, a fraction and a negative value', () => {
    const { file, message } = invalid('args.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [
      { index: 6, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }, { index: 1, value: -1, op: 'SCMP_CMP_EQ' },
    ] }] });
    expect(message).toBe(`seccomp policy ${file} is invalid: /syscalls/0/args/0/index: must be <= 5; /syscalls/0/args/1/value: must be integer; /syscalls/0/args/2/value: must be >= 0`);
  });

  it('names and architectures must look like names', () => {
    const { file, message } = invalid('names.json', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['x86_64'], syscalls: [{ names: ['Read'], action: 'SCMP_ACT_ALLOW' }] });
    expect(message).toBe(`seccomp policy ${file} is invalid: /architectures/0: must match pattern "^SCMP_ARCH_[A-Z0-9_]+$"; /syscalls/0/names/0: must match pattern "^[a-z_][a-z0-9_]*$"`);
  });

  it('defaultAction is required', () => {
    expect(refused(() => parsePolicy('{}', 'p.json'), 'config').message).toBe('seccomp policy p.json is invalid: /: must have required property \'defaultAction\'');
  });

  it('an unknown flag', () => {
    const { message } = invalid('flags.json', { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] });
    expect(message).toContain('/flags/0: must be one of "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"');
  });

  it('reports every problem at once', () => {
    const e = refused(() => parsePolicy(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrno: 'eperm', colour: 1 }), 'p.json'), 'config');
    expect(e.message).toContain('/colour: unknown field "colour"');
    expect(e.message).toContain('/defaultErrno: must match pattern "^E[A-Z0-9]+$"');
  });
});

describe('loading by name', () => {
  it('an unknown name is a usage error whose hint lists the policies and unconfined', () => {
    const e = refused(() => loadPolicy('nope'), 'usage');
    expect(e.message).toBe('unknown seccomp policy "nope" (--security-opt seccomp=)');
    expect(e.hint).toBe(`known policies: ${listBuiltinPolicies().join(', ')}, unconfined; or give a path to a .json file`);
    expect(e.hint).toContain('strict');
    expect(e.hint).toContain(UNCONFINED);
  });

  it('a shipped policy loads from policies/', () => {
    const loaded = loadPolicy('strict');
    expect(loaded.name).toBe('strict');
    expect(loaded.file).toBe(join(POLICIES, 'strict.json'));
    expect(loaded.policy).toEqual(JSON.parse(readFileSync(loaded.file, 'utf8')));
  });

  it('every shipped policy validates; the list is sorted', () => {
    const names = listBuiltinPolicies();
    expect(names).toEqual([...names].sort());
    for (const name of names) expect(() => loadPolicy(name)).not.toThrow();
  });

  it('policyFile: a name is under policies/, a path (a slash or .json) is resolved', () => {
    expect(policyFile('strict')).toBe(join(POLICIES, 'strict.json'));
    expect(policyFile('/etc/p.json')).toBe('/etc/p.json');
    expect(policyFile('./p')).toBe(resolve('p'));
    expect(policyFile('p.json')).toBe(resolve('p.json'));
  });
});

describe('podman\'s policy', () => {
  if (!existsSync(PODMAN)) console.warn(`podman policy test skipped: ${PODMAN} is missing (Debian: golang-github-containers-common)`);
  it.skipIf(!existsSync(PODMAN))(`${PODMAN} loads unchanged`, () => {
    const loaded = loadPolicy(PODMAN);
    expect(loaded.name).toBe('seccomp');
    expect(loaded.file).toBe(PODMAN);
    expect(loaded.text).toBe(readFileSync(PODMAN, 'utf8'));
    expect(loaded.policy).toEqual(JSON.parse(loaded.text));
  });
});

describe('policy schema', () => {
  type Node = Record<string, unknown>;
  const missingDescription = (n: Node) => typeof n.description !== 'string' || !n.description.trim();
  function walk(node: Node, pointer: string, out: string[], seen: string[]): void {
    for (const [name, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
      const p = `${pointer}/${name}`;
      seen.push(p);
      if (missingDescription(child)) out.push(p);
      walk(child, p, out, seen);
    }
    if (node.items && typeof node.items === 'object') {
      const child = node.items as Node;
      seen.push(`${pointer}/items`);
      // like the profile schema, object items are described by their list; scalar items carry their own
      if (child.type !== 'object' && missingDescription(child)) out.push(`${pointer}/items`);
      walk(child, `${pointer}/items`, out, seen);
    }
    if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      const child = node.additionalProperties as Node;
      if (missingDescription(child)) out.push(`${pointer}/*`);
      walk(child, `${pointer}/*`, out, seen);
    }
  }

  it('describes every property and every scalar list item at every level', () => {
    const missing: string[] = [];
    const seen: string[] = [];
    walk(policySchema as unknown as Node, '', missing, seen);
    expect(missing, 'schema nodes without a description').toEqual([]);
    expect((policySchema as unknown as Node).description).toBeTruthy();
    // the walk reaches the deepest levels
    expect(seen).toContain('/syscalls/items/args/items/valueTwo');
    expect(seen).toContain('/syscalls/items/excludes/caps/items');
    expect(seen).toContain('/archMap/items/subArchitectures/items');
  });

  it('forbids unknown fields at every object level', () => {
    type S = { additionalProperties?: unknown; properties: Record<string, S>; items?: S };
    const s = policySchema as unknown as S;
    const rule = s.properties.syscalls!.items!;
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.archMap!.items!.additionalProperties).toBe(false);
    expect(rule.additionalProperties).toBe(false);
    expect(rule.properties.args!.items!.additionalProperties).toBe(false);
    expect(rule.properties.includes!.additionalProperties).toBe(false);
    expect(rule.properties.excludes!.additionalProperties).toBe(false);
  });
});

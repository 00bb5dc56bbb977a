// Profiles: the shipped ones load, and bad files are refused with the file
// and the JSON pointer of the offending field.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describeSchemaError, listBuiltinProfiles, loadProfile, parseProfile,
} from '../../../src/config/load-profile.js';
import { profileSchema } from '../../../src/config/profile-schema.js';
import { SandboxError } from '../../../src/errors.js';
import { refused } from '../support/fixtures.js';

const PROFILES = fileURLToPath(new URL('../../../profiles/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sandbox-profile-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeProfile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}


describe('shipped profiles', () => {
  it.each(['default', 'strict'])('%s loads and validates', (name) => {
    const loaded = loadProfile(name);
    expect(loaded.name).toBe(name);
    expect(loaded.file).toBe(join(PROFILES, `${name}.json`));
    expect(loaded.profile).toEqual(JSON.parse(readFileSync(loaded.file, 'utf8')));
  });

  it('strict has the values the docs promise', () => {
    expect(loadProfile('strict').profile).toMatchObject({ user: { uid: 1000, gid: 1000 }, readOnly: true, network: 'none' });
  });

  it('listBuiltinProfiles has default and strict, sorted', () => {
    const names = listBuiltinProfiles();
    expect(names).toContain('default');
    expect(names).toContain('strict');
    expect(names).toEqual([...names].sort());
    expect(loadProfile('strict').file).toBe(join(PROFILES, 'strict.json'));
  });

  it('every shipped profile validates', () => {
    for (const name of listBuiltinProfiles()) expect(() => loadProfile(name)).not.toThrow();
  });
});

describe('loading by path', () => {
  it('names the profile after the file', () => {
    const file = writeProfile('mine.json', '{ "hostname": "box", "env": { "A": "1" } }');
    expect(loadProfile(file)).toEqual({ name: 'mine', file, profile: { hostname: 'box', env: { A: '1' } } });
  });

  it('bad JSON is a config error naming the file', () => {
    const file = writeProfile('broken.json', '{ "user": ');
    const e = refused(() => loadProfile(file), 'config');
    expect(e.message).toMatch(new RegExp(`^profile ${file} is not valid JSON: `));
  });

  it('a missing file is a config error naming it', () => {
    const file = join(dir, 'absent.json');
    expect(refused(() => loadProfile(file), 'config').message).toBe(`cannot read profile ${file}: ENOENT`);
  });

  it('an unknown nested field names its JSON pointer and the field', () => {
    const file = writeProfile('typo.json', '{ "tmpfs": [{ "path": "/x", "sizee": "1m" }] }');
    const e = refused(() => loadProfile(file), 'config');
    expect(e.message).toBe(`profile ${file} is invalid: /tmpfs/0/sizee: unknown field "sizee"`);
  });

  it('an unknown top-level field', () => {
    const file = writeProfile('colour.json', '{ "colour": "red" }');
    expect(refused(() => loadProfile(file), 'config').message).toBe(`profile ${file} is invalid: /colour: unknown field "colour"`);
  });

  it('a wrong type names the pointer', () => {
    const file = writeProfile('type.json', '{ "user": { "uid": "1000", "gid": 1000 } }');
    const e = refused(() => loadProfile(file), 'config');
    expect(e.message).toBe(`profile ${file} is invalid: /user/uid: must be integer`);
  });

  it('an enum lists the allowed values', () => {
    const file = writeProfile('owner.json', '{ "tmpfs": [{ "path": "/x", "owner": "nobody" }] }');
    expect(refused(() => loadProfile(file), 'config').message).toBe(`profile ${file} is invalid: /tmpfs/0/owner: must be one of "root", "user"`);
  });

  it('reports every problem at once', () => {
    const e = refused(() => parseProfile({ colour: 1, readOnly: 'yes' }, 'p.json'), 'config');
    expect(e.message).toContain('/colour: unknown field "colour"');
    expect(e.message).toContain('/readOnly: must be boolean');
  });
});

describe('loading by name', () => {
  it('an unknown name is a usage error listing the known names', () => {
    const e = refused(() => loadProfile('nope'), 'usage');
    expect(e.message).toBe('unknown profile "nope" (--profile)');
    expect(e.hint).toContain('known profiles: ');
    expect(e.hint).toContain(listBuiltinProfiles().join(', '));
    expect(e.hint).toMatch(/default/);
    expect(e.hint).toMatch(/strict/);
  });
});

describe('parseProfile / describeSchemaError', () => {
  it('accepts an empty profile', () => {
    expect(parseProfile({}, 'x')).toEqual({});
  });

  it('refuses non-objects', () => {
    expect(refused(() => parseProfile([], 'x.json'), 'config').message).toBe('profile x.json is invalid: /: must be object');
  });

  it('describes additionalProperties at the top with a leading slash', () => {
    expect(describeSchemaError({
      keyword: 'additionalProperties', instancePath: '', schemaPath: '#/additionalProperties',
      params: { additionalProperty: 'x' }, message: 'must NOT have additional properties',
    })).toBe('/x: unknown field "x"');
  });
});

describe('profile schema', () => {
  type Node = Record<string, unknown>;
  function walk(node: Node, pointer: string, out: string[]): void {
    const props = node.properties as Record<string, Node> | undefined;
    for (const [name, child] of Object.entries(props ?? {})) {
      const p = `${pointer}/${name}`;
      if (typeof child.description !== 'string' || !child.description.trim()) out.push(p);
      walk(child, p, out);
    }
    if (node.items && typeof node.items === 'object') walk(node.items as Node, `${pointer}/items`, out);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      const child = node.additionalProperties as Node;
      if (typeof child.description !== 'string' || !child.description.trim()) out.push(`${pointer}/*`);
      walk(child, `${pointer}/*`, out);
    }
  }

  it('describes every property at every level', () => {
    const missing: string[] = [];
    walk(profileSchema as unknown as Node, '', missing);
    expect(missing, 'schema properties without a description').toEqual([]);
    expect((profileSchema as unknown as Node).description).toBeTruthy();
  });

  it('the walk reaches nested properties', () => {
    const seen: string[] = [];
    const visit = (node: Node, pointer: string) => {
      for (const [name, child] of Object.entries((node.properties as Record<string, Node>) ?? {})) {
        seen.push(`${pointer}/${name}`);
        visit(child, `${pointer}/${name}`);
      }
      if (node.items) visit(node.items as Node, `${pointer}/items`);
    };
    visit(profileSchema as unknown as Node, '');
    expect(seen).toContain('/user/uid');
    expect(seen).toContain('/tmpfs/items/owner');
    expect(seen).toContain('/volumes/items/writable');
  });

  it('forbids unknown fields at every object level', () => {
    const s = profileSchema as unknown as { additionalProperties: boolean; properties: Record<string, Node> };
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.user!.additionalProperties).toBe(false);
    expect((s.properties.tmpfs!.items as Node).additionalProperties).toBe(false);
    expect((s.properties.volumes!.items as Node).additionalProperties).toBe(false);
  });
});

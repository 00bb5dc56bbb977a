// Requests of `sandbox serve`: the schema and the checks after it, each problem with its JSON pointer.
import { describe, expect, it } from 'vitest';
import { serveRequestSchema } from '../../../src/serve/request-schema.js';
import { checkRequest } from '../../../src/serve/validate-request.js';

const PROFILES = new Set(['default', 'strict']);
const pointer = (body: unknown) => {
  const r = checkRequest(body, PROFILES);
  return r.ok ? null : r.problem.pointer;
};

describe('checkRequest', () => {
  it('accepts a full request', () => {
    const r = checkRequest({
      command: ['./a.out'], image: 'host', profile: 'strict',
      files: [{ path: 'src/a.c', content: 'int main(){}' }, { path: 'bin/x', base64: 'AAE=', mode: 0o755 }],
      stdin: { base64: 'aGk=' }, limits: { cpuTime: 1.5, wallTime: 3, memory: '256m', pids: 64, fsize: 1048576, nofile: 64, stack: '8m', output: '1m' },
      env: { LANG: 'C', _X1: '' }, returnFiles: ['out.txt', 'dir/.hidden'], outputEncoding: 'base64',
    }, PROFILES);
    expect(r.ok).toBe(true);
  });

  it.each([
    [null, ''],
    [[], ''],
    [{}, '/command'],
    [{ command: 'ls' }, '/command'],
    [{ command: ['a\u0000b'] }, '/command/0'],
    [{ command: ['x'], bogus: true }, '/bogus'],
    [{ command: ['x'], limits: { cpuTime: 0 } }, '/limits/cpuTime'],
    [{ command: ['x'], limits: { pids: 1.5 } }, '/limits/pids'],
    [{ command: ['x'], limits: { memory: 'lots' } }, '/limits/memory'],
    [{ command: ['x'], limits: { memory: '0' } }, '/limits/memory'],
    [{ command: ['x'], limits: { output: 0 } }, '/limits/output'],
    [{ command: ['x'], limits: { wallTime: 'unlimited' } }, '/limits/wallTime'],
    [{ command: ['x'], limits: { seconds: 1 } }, '/limits/seconds'],
    [{ command: ['x'], files: [{ path: '.', content: '' }] }, '/files/0/path'],
    [{ command: ['x'], files: [{ path: 'a/./b', content: '' }] }, '/files/0/path'],
    [{ command: ['x'], files: [{ path: 'a//b', content: '' }] }, '/files/0/path'],
    [{ command: ['x'], files: [{ path: 'a/', content: '' }] }, '/files/0/path'],
    [{ command: ['x'], files: [{ path: '..', content: '' }] }, '/files/0/path'],
    [{ command: ['x'], files: [{ path: 'x'.repeat(256), content: '' }] }, '/files/0/path'],
    [{ command: ['x'], files: [{ path: 'a' }] }, '/files/0'],
    [{ command: ['x'], files: [{ path: 'a', base64: 'a b' }] }, '/files/0/base64'],
    [{ command: ['x'], files: [{ path: 'a', content: '', mode: 0o4755 }] }, '/files/0/mode'],
    [{ command: ['x'], files: [{ path: 'a/b', content: '' }, { path: 'a', content: '' }] }, '/files/1/path'],
    [{ command: ['x'], files: [{ path: 'a', content: '' }, { path: 'a', content: '' }] }, '/files/1/path'],
    [{ command: ['x'], returnFiles: ['a', 'a'] }, '/returnFiles'],
    [{ command: ['x'], returnFiles: ['/etc/shadow'] }, '/returnFiles/0'],
    [{ command: ['x'], env: { '1X': 'y' } }, '/env/1X'],
    [{ command: ['x'], env: { 'a/b': 'y' } }, '/env/a~1b'],
    [{ command: ['x'], env: { X: 1 } }, '/env/X'],
    [{ command: ['x'], profile: 'nosuch' }, '/profile'],
    [{ command: ['x'], profile: '/etc/profile.json' }, '/profile'],
    [{ command: ['x'], outputEncoding: 'latin1' }, '/outputEncoding'],
  ])('%j: %s', (body, expected) => {
    expect(pointer(body)).toBe(expected);
  });

  it('says what is wrong with a path', () => {
    const r = checkRequest({ command: ['x'], files: [{ path: '../x', content: '' }] }, PROFILES);
    expect(r.ok ? '' : r.problem.error).toMatch(/relative to the box/);
  });
});

describe('the request schema', () => {
  type Node = Record<string, unknown>;
  function walk(node: Node, at: string, out: string[]): void {
    for (const [name, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
      if (typeof child.description !== 'string' || !child.description.trim()) out.push(`${at}/${name}`);
      walk(child, `${at}/${name}`, out);
    }
    for (const key of ['items', 'additionalProperties']) {
      const child = node[key] as Node | undefined;
      if (child && typeof child === 'object') {
        if (typeof child.description !== 'string' || !child.description.trim()) out.push(`${at}/${key}`);
        walk(child, `${at}/${key}`, out);
      }
    }
    for (const branch of (node.anyOf as Node[] | undefined) ?? []) walk(branch, at, out);
  }

  it('describes every field at every level', () => {
    const missing: string[] = [];
    walk(serveRequestSchema as unknown as Node, '', missing);
    expect(missing, 'schema nodes without a description').toEqual([]);
  });
});

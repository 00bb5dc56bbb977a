// The lifecycle's pure parts: kill's signal names, the derived status of a
// kept container (container-state.ts) and list's table, on records written
// into a temporary --root (no container runs here: test/integration/oci-lifecycle.test.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentStatus, fifoPath, listIds, readRecord, stateJson, writeRecord, type ContainerRecord } from '../../../src/oci-cli/container-state.js';
import { descendants, listContainers, parseSignal } from '../../../src/oci-cli/lifecycle.js';
import { processStartTime } from '../../../src/host/process-start.js';

const root = mkdtempSync(join(tmpdir(), 'oci-lifecycle-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function record(id: string, more: Partial<ContainerRecord>): ContainerRecord {
  mkdirSync(join(root, id), { recursive: true });
  const rec: ContainerRecord = {
    id, bundle: '/b', rootfs: '/b/rootfs', created: '2026-12-06T04:00:00.000000000Z', owner: 'root', annotations: { a: 'b' },
    status: 'creating', pid: 0, ...more,
  };
  writeRecord(root, rec);
  return rec;
}

describe('kill signals', () => {
  it('takes names with or without SIG, in any case, and numbers; SIGTERM by default', () => {
    expect(parseSignal(undefined)).toBe(15);
    expect(parseSignal('TERM')).toBe(15);
    expect(parseSignal('SIGKILL')).toBe(9);
    expect(parseSignal('hup')).toBe(1);
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal('0')).toBe(0);
  });
  it('refuses what is no signal', () => {
    expect(() => parseSignal('SIGNOPE')).toThrow('unknown signal "SIGNOPE"');
    expect(() => parseSignal('65')).toThrow('unknown signal');
    expect(() => parseSignal('-1')).toThrow('unknown signal');
  });
});

describe('status of a kept container', () => {
  const me = { pid: process.pid, pidStart: processStartTime('self')! };
  it('creating while the keeper lives (or has not recorded itself), stopped when it is gone', () => {
    expect(currentStatus(root, record('c-new', {}))).toBe('creating');
    expect(currentStatus(root, record('c-keeping', { keeperPid: me.pid, keeperStart: me.pidStart }))).toBe('creating');
    expect(currentStatus(root, record('c-lost', { keeperPid: me.pid, keeperStart: me.pidStart + 1 }))).toBe('stopped');
  });
  it('created while the gate FIFO exists, running once start removed it', () => {
    const rec = record('c-gate', { status: 'created', ...me });
    writeFileSync(fifoPath(root, 'c-gate'), '');
    expect(currentStatus(root, rec)).toBe('created');
    rmSync(fifoPath(root, 'c-gate'));
    expect(currentStatus(root, rec)).toBe('running');
  });
  it('a pid reused by another process (other start time) is a stopped container, and state says pid 0', () => {
    const rec = record('c-reused', { status: 'created', pid: me.pid, pidStart: me.pidStart + 1 });
    expect(currentStatus(root, rec)).toBe('stopped');
    expect(stateJson(root, rec, '1.2.0')).toEqual({
      ociVersion: '1.2.0', id: 'c-reused', pid: 0, status: 'stopped', bundle: '/b', rootfs: '/b/rootfs',
      created: '2026-12-06T04:00:00.000000000Z', owner: 'root', annotations: { a: 'b' },
    });
  });
  it('the record is rewritten atomically and read back', () => {
    const rec = record('c-rw', { status: 'stopped', exitCode: 3 });
    expect(readRecord(root, 'c-rw')).toEqual(rec);
    expect(readRecord(root, 'nosuch')).toBeNull();
  });
});

describe('list', () => {
  it('lists directories with a state.json, sorted; a table as runc\'s tabwriter, or json', () => {
    mkdirSync(join(root, 'not-a-container'), { recursive: true });
    expect(listIds(root)).not.toContain('not-a-container');
    expect(listIds(root)).toEqual([...listIds(root)].sort());
    let out = '';
    listContainers(root, 'table', false, (s) => { out += s; });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID {10,}PID {9}STATUS {6}BUNDLE {6}CREATED {26,}OWNER$/);
    expect(lines).toHaveLength(listIds(root).length + 1);
    out = '';
    listContainers(root, 'json', false, (s) => { out += s; });
    expect((JSON.parse(out) as { id: string }[]).map((s) => s.id)).toEqual(listIds(root));
    out = '';
    listContainers(root, 'table', true, (s) => { out += s; });
    expect(out).toBe(listIds(root).map((id) => `${id}\n`).join(''));
  });
});

describe('descendants', () => {
  it('finds a child of this process, and nothing below a process without children', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('sleep', ['5']);
    try {
      expect(descendants(process.pid)).toContain(child.pid);
      expect(descendants(child.pid!)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

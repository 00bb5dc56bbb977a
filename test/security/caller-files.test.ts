// The files `exec` writes for its caller (--result, --meta, --stdout) when
// their path lies in a volume the workload can write: a link or FIFO the
// workload plants there, during the run or before a later one, must not
// redirect a write to a file outside the volumes (a root judge's file, or
// the unprivileged caller's own), and must not hang the CLI. Through the
// real CLI, as root and as the unprivileged test user.
// Must not: change the host outside a temporary directory.
import { spawnSync } from 'node:child_process';
import { chownSync, closeSync, constants as fsc, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITIES, runCli, type Identity } from '../integration/harness.js';

const ORIGINAL = 'original victim content\n';
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Scene {
  /** Bound read-write at /box: the workload may create, remove and link anything in it. */
  box: string;
  /** A file of the caller outside every volume: what the attack aims at. */
  victim: string;
}

function scene(who: Identity): Scene {
  const root = mkdtempSync('/tmp/caller-files-test-');
  roots.push(root);
  const box = join(root, 'box');
  mkdirSync(box, { mode: 0o777 });
  spawnSync('chmod', ['0777', box]);
  const victim = join(root, 'victim');
  writeFileSync(victim, ORIGINAL, { mode: 0o644 });
  for (const p of [root, box, victim]) chownSync(p, who.uid, who.gid);
  spawnSync('chmod', ['0711', root]); // the sandbox's mapped ids reach the box, not list what is next to it
  return { box, victim };
}

/** Makes a FIFO at `path` owned by `who`, as a workload of an earlier run could have. */
function plantFifo(path: string, who: Identity): void {
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
  chownSync(path, who.uid, who.gid);
}

const exec = (s: Scene, args: string[], script: string, who: Identity, timeoutMs = 20_000) =>
  runCli(['exec', '--profile', 'strict', '-v', `${s.box}:/box:rw`, ...args, 'host', '--', '/bin/sh', '-c', script], { as: who, timeoutMs });

describe.each(IDENTITIES)('report files in a writable volume, as $name', (who) => {
  it('a link planted during the run: --result and --meta are written to the files opened before it, the victim is unchanged', async () => {
    const s = scene(who);
    const result = join(s.box, 'result.json');
    const meta = join(s.box, 'meta.txt');
    const r = await exec(s, ['--result', result, '--meta', meta],
      `rm -f /box/result.json /box/meta.txt && ln -s ${s.victim} /box/result.json && ln -s ${s.victim} /box/meta.txt`, who);
    expect(readFileSync(s.victim, 'utf8')).toBe(ORIGINAL);
    // the links are the workload's; the sandbox says the reports were replaced, and fails closed
    expect(readlinkSync(result)).toBe(s.victim);
    expect(readlinkSync(meta)).toBe(s.victim);
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/result\.json \(--result\) was replaced or removed while the workload ran/);
  });

  it('a link planted before the run (--result, --meta, --stdout): refused with 125 before the workload runs, the victim is unchanged', async () => {
    const s = scene(who);
    for (const [flag, name] of [['--result', 'result.json'], ['--meta', 'meta.txt'], ['--stdout', 'out.txt']] as const) {
      const path = join(s.box, name);
      symlinkSync(s.victim, path);
      const r = await exec(s, [flag, path], 'echo pwned; touch /box/ran', who);
      expect(r.code, r.stderr).toBe(125);
      expect(r.stderr).toContain(`cannot open ${path} (${flag}): it is a symbolic link`);
      expect(existsSync(join(s.box, 'ran'))).toBe(false);
      expect(readFileSync(s.victim, 'utf8')).toBe(ORIGINAL);
    }
  });

  it('a FIFO planted at --meta or --result: refused with 125 at once, with or without a reader, nothing run', async () => {
    const s = scene(who);
    const meta = join(s.box, 'meta.txt');
    plantFifo(meta, who);
    const started = Date.now();
    const r = await exec(s, ['--meta', meta], 'touch /box/ran', who, 10_000);
    expect(r.signal).toBeNull(); // not killed by runCli's timeout: the CLI did not hang
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/meta\.txt \(--meta\) is not a regular file but a FIFO or socket/);
    expect(Date.now() - started).toBeLessThan(5000);
    // with a reader the open succeeds: the file type refuses it
    const result = join(s.box, 'result.json');
    plantFifo(result, who);
    const reader = openSync(result, fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      const withReader = await exec(s, ['--result', result], 'touch /box/ran', who, 10_000);
      expect(withReader.code, withReader.stderr).toBe(125);
      expect(withReader.stderr).toMatch(/result\.json \(--result\) is not a regular file but a FIFO/);
    } finally {
      closeSync(reader);
    }
    expect(existsSync(join(s.box, 'ran'))).toBe(false);
  });

  it('a FIFO planted during the run: the CLI does not hang, and fails closed', async () => {
    const s = scene(who);
    const meta = join(s.box, 'meta.txt');
    // the default profile: mknod of a FIFO is outside the strict policy
    const r = await runCli(['exec', '-v', `${s.box}:/box:rw`, '--meta', meta, 'host', '--', '/bin/sh', '-c', 'rm -f /box/meta.txt && mkfifo /box/meta.txt'],
      { as: who, timeoutMs: 10_000 });
    expect(lstatSync(meta).isFIFO()).toBe(true);
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toMatch(/meta\.txt \(--meta\) was replaced or removed while the workload ran/);
  });

  it('an unwritable or missing directory fails with 125 naming the flag, before the workload runs', async () => {
    const s = scene(who);
    const r = await exec(s, ['--result', join(s.box, 'no', 'such', 'dir', 'r.json')], 'touch /box/ran', who);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/cannot open .*r\.json \(--result\): ENOENT/);
    const dir = join(s.box, 'dir');
    mkdirSync(dir);
    const isDir = await exec(s, ['--meta', dir], 'touch /box/ran', who);
    expect(isDir.code).toBe(125);
    expect(isDir.stderr).toMatch(/\(--meta\): EISDIR|\(--meta\) is not a regular file but a directory/);
    expect(existsSync(join(s.box, 'ran'))).toBe(false);
  });

  it('a run that does not start leaves no report or output file it created, and an existing report untouched', async () => {
    const s = scene(who);
    const existing = join(s.box, 'old-result.json');
    writeFileSync(existing, 'previous result\n');
    chownSync(existing, who.uid, who.gid);
    const fresh = [join(s.box, 'meta.txt'), join(s.box, 'out.txt'), join(s.box, 'err.txt')];
    const r = await runCli(['exec', '--profile', 'no-such-profile', '--result', existing, '--meta', fresh[0]!, '--stdout', fresh[1]!, '--stderr', fresh[2]!,
      'host', '/bin/true'], { as: who });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/unknown profile "no-such-profile"/);
    for (const f of fresh) expect(existsSync(f), f).toBe(false);
    expect(readFileSync(existing, 'utf8')).toBe('previous result\n');
  });

  it('a regular report file is replaced in place: shorter content leaves no tail of the old', async () => {
    const s = scene(who);
    const meta = join(s.box, 'meta.txt');
    writeFileSync(meta, `${'x'.repeat(10_000)}\n`);
    chownSync(meta, who.uid, who.gid);
    const r = await exec(s, ['--meta', meta], 'exit 3', who);
    expect(r.code).toBe(3);
    const text = readFileSync(meta, 'utf8');
    expect(text).toMatch(/^time:\d+\.\d{3}\n/);
    expect(text).toContain('exitcode:3\n');
    expect(text).not.toContain('xx');
  });
});

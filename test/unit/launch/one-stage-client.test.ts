// Only the stage client starts the stage: no other module imports the
// launcher or names the stage binary's path to spawn it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../../src');
const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);

describe('one stage client', () => {
  const sources = files(SRC).map((f) => ({ file: relative(SRC, f), text: readFileSync(f, 'utf8') }));

  it('finds the sources it checks', () => {
    expect(sources.length).toBeGreaterThan(50);
    expect(sources.some((s) => s.file === 'launch/stage-client.ts')).toBe(true);
  });

  it('only the stage client imports the launcher', () => {
    const importers = sources.filter((s) => /from '[./]*(launch\/)?launch-stage\.js'/.test(s.text));
    expect(importers.map((s) => s.file)).toEqual(['launch/stage-client.ts']);
  });

  it('only the launcher spawns the stage binary', () => {
    const spawners = sources.filter((s) => /\b(spawn|execFile|exec|fork)(Sync)?\(\s*(stagePath\(\)|[^,]*sandbox-stage)/.test(s.text));
    expect(spawners.map((s) => s.file)).toEqual(['launch/launch-stage.ts']);
  });
});

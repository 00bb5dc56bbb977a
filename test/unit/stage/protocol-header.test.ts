// The C stage and the TypeScript side share one protocol: protocol.h must be
// what render-protocol-header.ts produces, and the stage's C parts must handle every op.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Command, CpuUsageFormat, Event, ForkFlag, KillReason, LimitFlag, Op, PLAN_MAGIC, PROTOCOL_VERSION, StageExit } from '../../../src/stage/protocol.js';
import { cName, renderProtocolHeader } from '../../../src/stage/render-protocol-header.js';
import { CommandFields, EventFields } from '../../../src/stage/protocol.js';
import { fixedBytes } from '../../../src/stage/frames.js';

const stageDir = fileURLToPath(new URL('../../../src/stage/', import.meta.url));
const STALE = 'src/stage/protocol.h is out of date with src/stage/protocol.ts: run `npm run gen:protocol`';

/** The C source of the stage's parts (every .c file and the private header), without comments, so commented-out cases do not count. */
function stageSource(): string {
  return readdirSync(stageDir).filter((f) => f.endsWith('.c') || f === 'stage.h').sort()
    .map((f) => readFileSync(stageDir + f, 'utf8')).join('\n')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ');
}

describe('protocol.h', () => {
  it('is byte for byte what renderProtocolHeader() produces', () => {
    const committed = readFileSync(stageDir + 'protocol.h');
    const rendered = Buffer.from(renderProtocolHeader(), 'utf8');
    expect(rendered.toString('utf8'), STALE).toBe(committed.toString('utf8'));
    expect(rendered.equals(committed), STALE).toBe(true);
  });

  it('defines the numbers the plan encoder uses', () => {
    const h = renderProtocolHeader();
    expect(PLAN_MAGIC).toBe(0x31584253);
    expect(h).toContain('#define PLAN_MAGIC 0x31584253u\n');
    expect(h).toContain(`#define PROTOCOL_VERSION ${PROTOCOL_VERSION}\n`);
    expect(h).toContain('#define OP_USERNS 1\n');
    expect(h).toContain('#define OP_EXEC 36\n');
    expect(h).toContain('#define FORK_TTY_STDIN 2\n');
    expect(h).toContain('#define EV_ERROR 3\n');
    expect(h).toContain('#define CMD_GO 1\n');
    expect(h).toContain('#define EXIT_BAD_PLAN 120\n');
    expect(h.startsWith('/* Generated from src/stage/protocol.ts')).toBe(true);
    expect(h.endsWith('#endif\n')).toBe(true);
  });

  it('has one #define per name', () => {
    const names = [...renderProtocolHeader().matchAll(/^#define (\w+)/gm)].map((m) => m[1]);
    expect(new Set(names).size).toBe(names.length);
    // header guard + magic + version + every table entry
    const tables = [Op, ForkFlag, LimitFlag, CpuUsageFormat, KillReason, Event, Command, StageExit].reduce((n, t) => n + Object.keys(t).length, 0);
    expect(names.length).toBe(1 + 2 + tables);
  });
});

describe('protocol.h frame code, generated from the field tables', () => {
  const h = renderProtocolHeader();
  const C_TYPE = { u32: 'uint32_t', i32: 'int32_t', i64: 'int64_t' } as const;

  it('has a struct per event with its fields in table order, and a packer that writes them in that order', () => {
    for (const [name, fields] of Object.entries(EventFields)) {
      const tag = `ev_${cName(name)}`;
      expect(h).toContain(`static inline size_t pack_${tag}(unsigned char *out, size_t cap`);
      expect(h).toContain(`  EV_${name}_BYTES = ${8 + fixedBytes(fields)},`);
      const body = h.slice(h.indexOf(`pack_${tag}(`), h.indexOf('return n;', h.indexOf(`pack_${tag}(`)));
      const written = [...body.matchAll(/f->(\w+)[,)]/g)].map((m) => m[1]);
      expect(written).toEqual(fields.map((f) => cName(f.name)));
      expect(body).toContain(`uint32_t type = EV_${name}`);
      if (fields.length === 0) continue;
      const struct = h.slice(h.indexOf(`struct ${tag} {`), h.indexOf('};', h.indexOf(`struct ${tag} {`)));
      const members = [...struct.matchAll(/^  (?:const )?(\w+) \*?(\w+);$/gm)].map((m) => `${m[1]} ${m[2]}`);
      expect(members).toEqual(fields.flatMap((f) => (f.type === 'text' ? [`char ${cName(f.name)}`, `uint32_t ${cName(f.name)}_len`] : [`${C_TYPE[f.type]} ${cName(f.name)}`])));
    }
  });

  it('has an unpacker per command', () => {
    for (const name of Object.keys(CommandFields)) expect(h).toContain(`static inline int unpack_cmd_${cName(name)}(const unsigned char *body, size_t len`);
  });

  it('adds no #define of its own (the frame sizes are enum constants)', () => {
    expect(h).toContain('enum { FRAME_HEADER_BYTES = 8 };');
    expect(h).not.toMatch(/#define \w*BYTES/);
  });
});

describe('protocol tables', () => {
  it('gives every op a distinct code', () => {
    const values = Object.values(Op);
    expect(values.length).toBe(40);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(Number.isInteger(v) && v > 0).toBe(true);
  });

  it('gives every event, fork flag, command and exit code a distinct value', () => {
    for (const table of [Event, ForkFlag, Command, StageExit, LimitFlag, CpuUsageFormat, KillReason]) {
      const values = Object.values(table);
      expect(new Set(values).size).toBe(values.length);
    }
    // fork flags are OR-ed together: each one is a single bit
    for (const v of Object.values(ForkFlag)) expect(v & (v - 1)).toBe(0);
  });
});

describe('the stage\'s C files', () => {
  const cases = [...stageSource().matchAll(/\bcase\s+OP_([A-Z0-9_]+)\s*:/g)].map((m) => m[1]!);

  it('has case labels to check (the regex found the dispatch switch)', () => {
    expect(cases).toContain('USERNS');
    expect(cases).toContain('EXEC');
  });

  it('only handles ops that protocol.ts defines', () => {
    const unknown = cases.filter((name) => !(name in Op));
    expect(unknown, 'the stage has `case OP_X` for ops missing from protocol.ts').toEqual([]);
  });

  it('handles every op of protocol.ts with a `case OP_...:`', () => {
    const missing = Object.keys(Op).filter((name) => !cases.includes(name));
    expect(missing, 'ops of protocol.ts that the stage does not dispatch').toEqual([]);
  });

  it('has no duplicate case labels', () => {
    expect(new Set(cases).size).toBe(cases.length);
  });

  it('is in parts of at most ~500 lines, each saying what it holds, with no file-scope variables', () => {
    const files = readdirSync(stageDir).filter((f) => f.endsWith('.c'));
    expect(files).not.toContain('stage.c');
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const text = readFileSync(stageDir + f, 'utf8');
      expect(text.split('\n').length, f).toBeLessThanOrEqual(500);
      expect(text.startsWith(`/* ${f}: `), `${f} starts with a comment naming what it holds`).toBe(true);
      expect(text, `${f} includes the private header`).toMatch(/#include "stage\.h"/);
      // a file-scope variable: a top-level "static T name;" or "T name = ...;" (functions and enums aside)
      const topLevel = text.replace(/\/\*[\s\S]*?\*\//g, '').split('\n').filter((l) => /^(static\s+)?[a-z_][\w\s*]*\b\w+\s*(\[[^\]]*\])?\s*(=[^(]*)?;\s*$/.test(l) && !/\(/.test(l));
      expect(topLevel, `${f} has file-scope variables`).toEqual([]);
    }
  });

  it('includes the generated header rather than its own numbers', () => {
    const src = stageSource();
    expect(src).toMatch(/#include\s+"protocol\.h"/);
    expect(src).not.toMatch(/#define\s+OP_/);
  });
});

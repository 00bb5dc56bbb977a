// Renders src/stage/protocol.h from protocol.ts, so the C stage and the
// TypeScript side can never disagree on a number or on where a frame field
// lies: the frame structs and their pack/unpack functions are generated from
// the field tables (EventFields, CommandFields) that frames.ts decodes with.
import {
  Command, CommandFields, CpuUsageFormat, Event, EventFields, ForkFlag, KillReason, LimitFlag, Op, PLAN_MAGIC, PROTOCOL_VERSION, StageExit,
  type Field, type FieldType,
} from './protocol.js';
import { fixedBytes, FRAME_HEADER_BYTES } from './frames.js';

function defines(prefix: string, table: Record<string, number>): string[] {
  return Object.entries(table).map(([name, value]) => `#define ${prefix}${name} ${value}`);
}

/** camelCase -> snake_case (C field and function names). */
export function cName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z]+)/g, '$1_$2').toLowerCase();
}

const C_TYPE: Record<Exclude<FieldType, 'text'>, string> = { u32: 'uint32_t', i32: 'int32_t', i64: 'int64_t' };
const WIDTH: Record<Exclude<FieldType, 'text'>, number> = { u32: 4, i32: 4, i64: 8 };

function struct(tag: string, fields: readonly Field[]): string[] {
  if (fields.length === 0) return [];
  return [
    `struct ${tag} {`,
    ...fields.flatMap((f) => f.type === 'text'
      ? [`  const char *${cName(f.name)};`, `  uint32_t ${cName(f.name)}_len;`]
      : [`  ${C_TYPE[f.type]} ${cName(f.name)};`]),
    '};',
  ];
}

/** Event frames: a struct and a function that packs the whole frame (header included). */
function packer(name: string, fields: readonly Field[]): string[] {
  const tag = `ev_${cName(name)}`;
  const arg = fields.length ? ', const struct ' + tag + ' *f' : '';
  return [
    ...struct(tag, fields),
    `/* The whole ${name} frame into out (cap >= ${tag.toUpperCase()}_BYTES); returns its length. */`,
    `static inline size_t pack_${tag}(unsigned char *out, size_t cap${arg}) {`,
    `  size_t n = FRAME_HEADER_BYTES;`,
    '  (void)cap;',
    ...fields.map((f) => f.type === 'text'
      ? `  { size_t t = f->${cName(f.name)}_len; if (t > cap - n) t = cap - n; memcpy(out + n, f->${cName(f.name)}, t); n += t; }`
      : `  memcpy(out + n, &f->${cName(f.name)}, ${WIDTH[f.type]}); n += ${WIDTH[f.type]};`),
    `  uint32_t type = EV_${name}, len = (uint32_t)(n - FRAME_HEADER_BYTES);`,
    '  memcpy(out, &type, 4);',
    '  memcpy(out + 4, &len, 4);',
    '  return n;',
    '}',
  ];
}

/** Command frames: a struct and a function that unpacks a payload (-1: too short). */
function unpacker(name: string, fields: readonly Field[]): string[] {
  const tag = `cmd_${cName(name)}`;
  const arg = fields.length ? ', struct ' + tag + ' *f' : '';
  let off = 0;
  return [
    ...struct(tag, fields),
    `static inline int unpack_${tag}(const unsigned char *body, size_t len${arg}) {`,
    fixedBytes(fields) ? `  if (len < ${fixedBytes(fields)}) return -1;` : '  (void)len;',
    '  (void)body;',
    ...fields.map((f) => {
      if (f.type === 'text') return `  f->${cName(f.name)} = (const char *)body + ${off}; f->${cName(f.name)}_len = (uint32_t)(len - ${off});`;
      const line = `  memcpy(&f->${cName(f.name)}, body + ${off}, ${WIDTH[f.type]});`;
      off += WIDTH[f.type];
      return line;
    }),
    '  return 0;',
    '}',
  ];
}

export function renderProtocolHeader(): string {
  const sizes = Object.entries(EventFields).map(([n, f]) => `  EV_${n}_BYTES = ${FRAME_HEADER_BYTES + fixedBytes(f)},`);
  return [
    '/* Generated from src/stage/protocol.ts by `npm run gen:protocol`. Do not edit. */',
    '#ifndef SANDBOX_PROTOCOL_H',
    '#define SANDBOX_PROTOCOL_H',
    `#define PLAN_MAGIC 0x${PLAN_MAGIC.toString(16)}u`,
    `#define PROTOCOL_VERSION ${PROTOCOL_VERSION}`,
    ...defines('OP_', Op),
    ...defines('FORK_', ForkFlag),
    ...defines('LIMIT_', LimitFlag),
    ...defines('CPU_USAGE_', CpuUsageFormat),
    ...defines('KILL_', KillReason),
    ...defines('EV_', Event),
    ...defines('CMD_', Command),
    ...defines('EXIT_', StageExit),
    '',
    '/* Frames: u32 type, u32 payload length, payload (fields little-endian, as the host). */',
    '#include <stddef.h>',
    '#include <stdint.h>',
    '#include <string.h>',
    '',
    `enum { FRAME_HEADER_BYTES = ${FRAME_HEADER_BYTES} };`,
    '/* Bytes of each event frame without its text */',
    'enum {',
    ...sizes,
    '};',
    '',
    ...Object.entries(EventFields).flatMap(([n, f]) => [...packer(n, f), '']),
    ...Object.entries(CommandFields).flatMap(([n, f]) => [...unpacker(n, f), '']),
    '/* The header of a frame. */',
    'static inline void unpack_frame_header(const unsigned char *p, uint32_t *type, uint32_t *len) {',
    '  memcpy(type, p, 4);',
    '  memcpy(len, p + 4, 4);',
    '}',
    '#endif',
    '',
  ].join('\n');
}

// Control-socket frames, encoded and decoded from the field tables of
// protocol.ts (EventFields, CommandFields): the C side packs the same tables
// through the code generated into protocol.h, so no offset is written twice.
// Must not: interpret what a frame means (launch/ does).
import { Command, CommandFields, Event, EventFields, type Field, type FieldType } from './protocol.js';

export const FRAME_HEADER_BYTES = 8;

type FieldValue<T extends FieldType> = T extends 'i64' ? bigint : T extends 'text' ? string : number;
/** The decoded payload of a frame: one property per field of its table. */
export type FrameValues<F extends readonly Field[]> = { -readonly [K in F[number] as K['name']]: FieldValue<K['type']> };

export type EventName = keyof typeof Event;
export type EventValues<N extends EventName> = FrameValues<(typeof EventFields)[N]>;
export type CommandName = keyof typeof Command;

const WIDTH: Record<Exclude<FieldType, 'text'>, number> = { u32: 4, i32: 4, i64: 8 };

/** Bytes of the fixed part of a payload (everything but a trailing text). */
export function fixedBytes(fields: readonly Field[]): number {
  return fields.reduce((n, f) => n + (f.type === 'text' ? 0 : WIDTH[f.type]), 0);
}

function checkTable(fields: readonly Field[]): void {
  fields.forEach((f, i) => {
    if (f.type === 'text' && i !== fields.length - 1) throw new Error(`frame field ${f.name}: text must be the last field`);
  });
}

/** Decodes a payload by its table; throws when it is shorter than the fixed part. */
export function decodeFields<F extends readonly Field[]>(fields: F, body: Buffer): FrameValues<F> {
  checkTable(fields);
  if (body.length < fixedBytes(fields)) throw new Error(`frame payload of ${body.length} bytes, expected at least ${fixedBytes(fields)}`);
  const out: Record<string, number | bigint | string> = {};
  let off = 0;
  for (const f of fields) {
    switch (f.type) {
      case 'u32': out[f.name] = body.readUInt32LE(off); off += 4; break;
      case 'i32': out[f.name] = body.readInt32LE(off); off += 4; break;
      case 'i64': out[f.name] = body.readBigInt64LE(off); off += 8; break;
      case 'text': out[f.name] = body.subarray(off).toString('utf8'); off = body.length; break;
    }
  }
  return out as FrameValues<F>;
}

/** Encodes a payload by its table. */
export function encodeFields<F extends readonly Field[]>(fields: F, values: FrameValues<F>): Buffer {
  checkTable(fields);
  const v = values as Record<string, number | bigint | string>;
  const text = fields.find((f) => f.type === 'text');
  const tail = text ? Buffer.from(String(v[text.name]), 'utf8') : Buffer.alloc(0);
  const out = Buffer.alloc(fixedBytes(fields) + tail.length);
  let off = 0;
  for (const f of fields) {
    switch (f.type) {
      case 'u32': off = out.writeUInt32LE(Number(v[f.name]), off); break;
      case 'i32': off = out.writeInt32LE(Number(v[f.name]), off); break;
      case 'i64': off = out.writeBigInt64LE(BigInt(v[f.name] as bigint), off); break;
      case 'text': tail.copy(out, off); off += tail.length; break;
    }
  }
  return out;
}

function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** A whole event frame (header and payload), as the stage sends it. */
export function encodeEvent<N extends EventName>(name: N, values: EventValues<N>): Buffer {
  return frame(Event[name], encodeFields(EventFields[name], values as never));
}

/** A whole command frame, as the sandbox sends it. */
export function encodeCommand(name: CommandName): Buffer {
  return frame(Command[name], encodeFields(CommandFields[name], {} as never));
}

/** One decoded event; `unknown` for a type protocol.ts does not define. */
export type DecodedEvent =
  | { [N in EventName]: { name: N; values: EventValues<N> } }[EventName]
  | { name: 'unknown'; type: number };

const EVENT_NAMES = new Map<number, EventName>(Object.entries(Event).map(([n, v]) => [v, n as EventName]));

export function decodeEvent(type: number, body: Buffer): DecodedEvent {
  const name = EVENT_NAMES.get(type);
  if (!name) return { name: 'unknown', type };
  return { name, values: decodeFields(EventFields[name], body) } as DecodedEvent;
}

/** Splits a byte stream into complete frames; `rest` is an incomplete tail. */
export function splitFrames(buf: Buffer): { frames: { type: number; body: Buffer }[]; rest: Buffer } {
  const frames: { type: number; body: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= FRAME_HEADER_BYTES) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    if (buf.length - off < FRAME_HEADER_BYTES + len) break;
    frames.push({ type, body: buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len) });
    off += FRAME_HEADER_BYTES + len;
  }
  return { frames, rest: buf.subarray(off) };
}

// cgroup/dbus-wire: just enough of the D-Bus wire format (little-endian
// marshalling of method calls, reading the messages systemd sends back) to ask
// the service manager for a transient scope over its private socket without
// starting a helper process. Types: y b u s o g v, arrays and structs.
// A malformed message throws a plain Error, wrapped like systemd-scope.ts's own.
// Must not: do I/O; systemd-scope.ts owns the socket.

/** A D-Bus value with its signature spelled out where it cannot be inferred. */
export type DbusValue =
  | { readonly t: 'y' | 'b' | 'u'; readonly v: number | boolean }
  | { readonly t: 's' | 'o' | 'g'; readonly v: string }
  | { readonly t: 'v'; readonly sig: string; readonly v: DbusValue }
  | { readonly t: 'a'; readonly sig: string; readonly v: readonly DbusValue[] }
  | { readonly t: 'r'; readonly v: readonly DbusValue[] };

export const MessageType = { METHOD_CALL: 1, METHOD_RETURN: 2, ERROR: 3, SIGNAL: 4 } as const;

const Field = { PATH: 1, INTERFACE: 2, MEMBER: 3, ERROR_NAME: 4, REPLY_SERIAL: 5, DESTINATION: 6, SIGNATURE: 8 } as const;

/** Alignment of a type by its first signature character. */
function alignOf(sig: string): number {
  switch (sig[0]) {
    case 'y': case 'g': case 'v': return 1;
    case 'b': case 'u': case 'i': case 's': case 'o': case 'a': case 'h': return 4;
    case '(': case '{': case 'x': case 't': case 'd': return 8;
    case 'n': case 'q': return 2;
    default: throw new Error(`d-bus: unsupported signature ${sig}`);
  }
}

/** Signature of one value. */
export function signatureOf(value: DbusValue): string {
  switch (value.t) {
    case 'a': return `a${value.sig}`;
    case 'r': return `(${value.v.map(signatureOf).join('')})`;
    default: return value.t;
  }
}

class Writer {
  private buf = Buffer.alloc(256);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.ensure(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length++);
  }

  u32(v: number): void {
    this.align(4);
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }

  /** Reserves a u32 to fill in later (array lengths). */
  u32At(offset: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, offset);
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  value(value: DbusValue): void {
    switch (value.t) {
      case 'y': this.u8(Number(value.v)); return;
      case 'b': this.u32(value.v ? 1 : 0); return;
      case 'u': this.u32(Number(value.v)); return;
      case 's': case 'o': {
        const b = Buffer.from(value.v, 'utf8');
        this.u32(b.length);
        this.bytes(b);
        this.u8(0);
        return;
      }
      case 'g': {
        const b = Buffer.from(value.v, 'ascii');
        this.u8(b.length);
        this.bytes(b);
        this.u8(0);
        return;
      }
      case 'v':
        this.value({ t: 'g', v: value.sig });
        this.value(value.v);
        return;
      case 'a': {
        this.align(4);
        const at = this.length;
        this.u32(0);
        this.align(alignOf(value.sig)); // padding before the first element is not part of the length
        const start = this.length;
        for (const e of value.v) this.value(e);
        this.u32At(at, this.length - start);
        return;
      }
      case 'r':
        this.align(8);
        for (const e of value.v) this.value(e);
        return;
    }
  }

  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

export interface MethodCall {
  readonly serial: number;
  readonly destination?: string;
  readonly path: string;
  readonly iface: string;
  readonly member: string;
  readonly args: readonly DbusValue[];
}

/** A METHOD_CALL message, ready for the socket. */
export function encodeMethodCall(call: MethodCall): Buffer {
  const body = new Writer();
  for (const a of call.args) body.value(a);
  const sig = call.args.map(signatureOf).join('');
  const field = (code: number, t: 's' | 'o' | 'g', v: string): DbusValue =>
    ({ t: 'r', v: [{ t: 'y', v: code }, { t: 'v', sig: t, v: { t, v } }] });
  const fields: DbusValue[] = [
    field(Field.PATH, 'o', call.path),
    field(Field.INTERFACE, 's', call.iface),
    field(Field.MEMBER, 's', call.member),
    ...(call.destination ? [field(Field.DESTINATION, 's', call.destination)] : []),
    ...(sig ? [field(Field.SIGNATURE, 'g', sig)] : []),
  ];
  const head = new Writer();
  head.u8('l'.charCodeAt(0));
  head.u8(MessageType.METHOD_CALL);
  head.u8(0); // flags
  head.u8(1); // protocol version
  head.u32(body.length);
  head.u32(call.serial);
  head.value({ t: 'a', sig: '(yv)', v: fields });
  head.align(8);
  return Buffer.concat([head.take(), body.take()]);
}

export interface Message {
  readonly type: number;
  readonly serial: number;
  readonly replySerial: number | null;
  readonly member: string | null;
  readonly errorName: string | null;
  readonly signature: string;
  /** Leading body values of basic types (y b u i s o g, or a variant holding one), in order; reading stops at the first other type. */
  readonly args: readonly (string | number | boolean)[];
}

/** Length of the first complete message in `buf`, or null when more bytes are needed. */
export function messageLength(buf: Buffer): number | null {
  if (buf.length < 16) return null;
  const le = buf[0] === 0x6c; // 'l'
  const bodyLen = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLen = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const headerLen = 16 + fieldsLen + ((8 - ((16 + fieldsLen) % 8)) % 8);
  const total = headerLen + bodyLen;
  return buf.length >= total ? total : null;
}

class Reader {
  constructor(private readonly buf: Buffer, private readonly le: boolean, public pos: number, private readonly base: number) {}

  align(n: number): void {
    const rel = this.pos - this.base;
    this.pos += (n - (rel % n)) % n;
  }

  u8(): number {
    return this.buf.readUInt8(this.pos++);
  }

  u32(): number {
    this.align(4);
    const v = this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  str(): string {
    const n = this.u32();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n + 1;
    return s;
  }

  sig(): string {
    const n = this.u8();
    const s = this.buf.toString('ascii', this.pos, this.pos + n);
    this.pos += n + 1;
    return s;
  }

  /** A basic value; null for a type this reader does not decode. */
  basic(t: string): string | number | boolean | null {
    switch (t) {
      case 'y': return this.u8();
      case 'b': return this.u32() !== 0;
      case 'u': return this.u32();
      case 'i': return this.u32() | 0;
      case 's': case 'o': return this.str();
      case 'g': return this.sig();
      default: return null;
    }
  }
}

/** Decodes one complete message (see messageLength): the header fields this client needs and basic leading args. */
export function decodeMessage(buf: Buffer): Message {
  const le = buf[0] === 0x6c;
  const type = buf[1]!;
  const serial = le ? buf.readUInt32LE(8) : buf.readUInt32BE(8);
  const fieldsLen = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const r = new Reader(buf, le, 16, 0);
  const end = 16 + fieldsLen;
  let replySerial: number | null = null;
  let member: string | null = null;
  let errorName: string | null = null;
  let signature = '';
  while (r.pos < end) {
    r.align(8);
    const code = r.u8();
    const t = r.sig();
    const v = r.basic(t);
    if (v === null) throw new Error(`d-bus: header field ${code} has unsupported type ${t}`);
    if (code === Field.REPLY_SERIAL) replySerial = Number(v);
    else if (code === Field.MEMBER) member = String(v);
    else if (code === Field.ERROR_NAME) errorName = String(v);
    else if (code === Field.SIGNATURE) signature = String(v);
  }
  const bodyStart = end + ((8 - (end % 8)) % 8);
  const body = new Reader(buf, le, bodyStart, bodyStart);
  const args: (string | number | boolean)[] = [];
  for (const t of signature) {
    // a variant of a basic type reads as its value (Properties.Get answers "v")
    const v = t === 'v' ? body.basic(body.sig()) : body.basic(t);
    if (v === null) break;
    args.push(v);
  }
  return { type, serial, replySerial, member, errorName, signature, args };
}

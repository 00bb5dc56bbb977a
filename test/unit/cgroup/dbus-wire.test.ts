// Unit tests of the D-Bus marshalling: a method call checked byte by byte
// against the specification, the StartTransientUnit arguments, and replies
// (little- and big-endian) decoded from hand-made bytes.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMethodCall, messageLength, MessageType } from '../../../src/cgroup/dbus-wire.js';
import { scopeUnitArgs } from '../../../src/cgroup/systemd-scope.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('encodeMethodCall', () => {
  it('lays out header fields and body as the specification says', () => {
    const b = encodeMethodCall({ serial: 7, path: '/o', iface: 'i.f', member: 'M', args: [{ t: 's', v: 'hi' }] });
    expect(b.toString('hex')).toBe(hex(`
      6c 01 00 01  07000000  07000000  37000000
      01 01 6f 00  02000000 2f6f 00  0000000000
      02 01 73 00  03000000 692e66 00  00000000
      03 01 73 00  01000000 4d 00  000000000000
      08 01 67 00  01 73 00  00
      02000000 6869 00`).toString('hex'));
    expect(messageLength(b)).toBe(b.length);
  });

  it('array lengths leave out the padding before the first struct', () => {
    const b = encodeMethodCall({ serial: 1, path: '/', iface: 'a.b', member: 'M', args: [
      { t: 'a', sig: '(sv)', v: [{ t: 'r', v: [{ t: 's', v: 'A' }, { t: 'v', sig: 'b', v: { t: 'b', v: true } }] }] },
    ] });
    const bodyLen = b.readUInt32LE(4);
    expect(b.subarray(b.length - bodyLen).toString('hex')).toBe(hex('10000000 00000000 01000000 41 00 01 62 00 000000 01000000').toString('hex'));
  });

  it('StartTransientUnit: ssa(sv)a(sa(sv)) with the stage and the keeper', () => {
    const args = scopeUnitArgs({ unit: 'rootless-sandbox-1.scope', slice: 'app.slice', pid: 42, extraPids: [43], description: 'd' });
    const b = encodeMethodCall({ serial: 3, destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', iface: 'org.freedesktop.systemd1.Manager', member: 'StartTransientUnit', args });
    expect(b.includes(Buffer.from('ssa(sv)a(sa(sv))'))).toBe(true);
    for (const s of ['rootless-sandbox-1.scope', 'fail', 'PIDs', 'au', 'Delegate', 'CollectMode', 'inactive-or-failed', 'Slice', 'app.slice']) {
      expect(b.includes(Buffer.from(`${s}\0`)), s).toBe(true);
    }
    // PIDs: au with 42 and 43, 8 bytes of elements
    expect(b.includes(hex('08000000 2a000000 2b000000'))).toBe(true);
    expect(messageLength(b)).toBe(b.length);
    expect(messageLength(b.subarray(0, b.length - 1))).toBeNull();
  });
});

describe('decodeMessage', () => {
  it('a method return with an object path (little-endian)', () => {
    // header fields: REPLY_SERIAL u 3, SIGNATURE g "o"; body: o "/j/1"
    const m = hex(`
      6c 02 01 01  09000000  05000000  0f000000
      05 01 75 00  03000000  08 01 67 00 01 6f 00  00
      04000000 2f6a2f31 00`);
    expect(messageLength(m)).toBe(m.length);
    expect(decodeMessage(m)).toEqual({
      type: MessageType.METHOD_RETURN, serial: 5, replySerial: 3, member: null, errorName: null, signature: 'o', args: ['/j/1'],
    });
  });

  it('an error with its name and message (big-endian)', () => {
    const name = 'a.B';
    const m = hex(`
      42 03 01 01  00000006  00000009  0000001f
      05 01 75 00  00000003
      04 01 73 00  00000003 612e42 00  00000000
      08 01 67 00  01 73 00  00
      00000001 78 00`);
    const d = decodeMessage(m);
    expect(d).toMatchObject({ type: MessageType.ERROR, serial: 9, replySerial: 3, errorName: name, signature: 's', args: ['x'] });
  });

  it('a signal with basic arguments, and a variant holding a string', () => {
    const sig = hex(`
      6c 04 01 01  0f000000  02000000  18000000
      03 01 73 00  01000000 4a 00  000000000000
      08 01 67 00  02 75 76 00
      07000000  01 73 00  00  02000000 6f6b 00`);
    expect(decodeMessage(sig)).toMatchObject({ type: MessageType.SIGNAL, member: 'J', signature: 'uv', args: [7, 'ok'] });
  });
});

// Frames are defined once (EventFields, CommandFields in protocol.ts): the
// TypeScript codec and the C code generated into protocol.h follow the same
// tables. Round-trips here; the C side is compiled and compared below.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeEvent, decodeFields, encodeCommand, encodeEvent, encodeFields, fixedBytes, splitFrames, type EventValues,
} from '../../../src/stage/frames.js';
import { Command, CommandFields, Event, EventFields } from '../../../src/stage/protocol.js';

const SAMPLE_EXIT: EventValues<'EXIT'> = {
  waitStatus: 0x0300, wallNs: 123456789n, userUs: -1n, systemUs: 2n ** 40n, maxRssKib: 4096n, killReason: 2, truncated: 3,
  stdoutBytes: -1n, stderrBytes: 7n, cpuSampleUs: 9007199254740993n, voluntarySwitches: 5n, involuntarySwitches: 6n,
};

describe('frames from the field tables', () => {
  it('round-trips every event through encodeEvent and decodeEvent', () => {
    const samples: { [N in keyof typeof Event]: EventValues<N> } = {
      NS_READY: { pid: 4242, syncId: 2 },
      STARTED: { reaperPid: 77, reserved: 0, mapsNs: 1000n, namespacesNs: 2000n, pid1Ns: -1n, execNs: 5000n },
      ERROR: { step: 0xffffffff, errorNumber: -5, detail: 'bind /usr on /usr: é' },
      EXIT: SAMPLE_EXIT,
      DONE: {},
      GATE: { pid: 123456, reserved: 0 },
    };
    for (const name of Object.keys(Event) as (keyof typeof Event)[]) {
      const frame = encodeEvent(name, samples[name] as never);
      expect(frame.readUInt32LE(0)).toBe(Event[name]);
      expect(frame.readUInt32LE(4)).toBe(frame.length - 8);
      const { frames, rest } = splitFrames(frame);
      expect(rest).toHaveLength(0);
      expect(decodeEvent(frames[0]!.type, frames[0]!.body)).toEqual({ name, values: samples[name] });
    }
  });

  it('lays fields out in table order, little-endian, without padding', () => {
    const body = encodeFields(EventFields.EXIT, SAMPLE_EXIT);
    expect(body.length).toBe(fixedBytes(EventFields.EXIT));
    expect(body.length).toBe(4 + 8 * 4 + 4 + 4 + 8 * 5);
    // the offsets launch-stage.ts once read by hand
    expect(body.readInt32LE(0)).toBe(0x0300);
    expect(body.readBigInt64LE(4)).toBe(123456789n);
    expect(body.readUInt32LE(36)).toBe(2);
    expect(body.readUInt32LE(40)).toBe(3);
    expect(body.readBigInt64LE(60)).toBe(9007199254740993n);
    expect(body.readBigInt64LE(76)).toBe(6n);
    expect(encodeFields(EventFields.ERROR, { step: 3, errorNumber: 2, detail: 'x' })).toEqual(Buffer.from([3, 0, 0, 0, 2, 0, 0, 0, 0x78]));
  });

  it('refuses a payload shorter than its fixed part', () => {
    expect(() => decodeFields(EventFields.NS_READY, Buffer.alloc(4))).toThrow(/4 bytes, expected at least 8/);
    expect(() => decodeEvent(Event.EXIT, Buffer.alloc(83))).toThrow();
  });

  it('keeps text as the last field only', () => {
    for (const table of [...Object.values(EventFields), ...Object.values(CommandFields)]) {
      const texts = table.map((f, i) => [f.type, i] as const).filter(([t]) => t === 'text');
      for (const [, i] of texts) expect(i).toBe(table.length - 1);
    }
    expect(() => decodeFields([{ name: 'a', type: 'text' }, { name: 'b', type: 'u32' }] as const, Buffer.alloc(8))).toThrow(/last field/);
  });

  it('has a table for every event and command, and nothing else', () => {
    expect(Object.keys(EventFields).sort()).toEqual(Object.keys(Event).sort());
    expect(Object.keys(CommandFields).sort()).toEqual(Object.keys(Command).sort());
  });

  it('encodes GO as a bare header, and reports an unknown event type as such', () => {
    expect(encodeCommand('GO')).toEqual(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    expect(decodeEvent(99, Buffer.alloc(0))).toEqual({ name: 'unknown', type: 99 });
  });

  it('splits a stream into frames and keeps an incomplete tail', () => {
    const a = encodeEvent('STARTED', { reaperPid: 1, reserved: 0, mapsNs: 1n, namespacesNs: 2n, pid1Ns: 3n, execNs: 4n });
    const b = encodeEvent('DONE', {});
    const { frames, rest } = splitFrames(Buffer.concat([a, b, a.subarray(0, 5)]));
    expect(frames.map((f) => f.type)).toEqual([Event.STARTED, Event.DONE]);
    expect(rest).toHaveLength(5);
  });
});

// The generated C packers, compiled and run: their bytes must decode to the same values.
const cc = process.env.CC || 'cc';
const haveCc = spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0;
if (!haveCc) console.warn(`frames.test: no C compiler (${cc}): the generated C packers are not compiled here`);
describe.skipIf(!haveCc)('the C packers generated into protocol.h', () => {
  const dir = mkdtempSync(join(tmpdir(), 'frames-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const header = fileURLToPath(new URL('../../../src/stage/', import.meta.url));

  it('produce the bytes the TypeScript tables decode', () => {
    const src = `#include <stdio.h>
#include "protocol.h"
static void hex(const unsigned char *b, size_t n) { for (size_t i = 0; i < n; i++) printf("%02x", b[i]); printf("\\n"); }
int main(void) {
  unsigned char buf[256];
  struct ev_ns_ready r = {.pid = 4242, .sync_id = 2};
  hex(buf, pack_ev_ns_ready(buf, sizeof buf, &r));
  struct ev_started s = {.reaper_pid = 77, .reserved = 0, .maps_ns = 1000, .namespaces_ns = 2000, .pid1_ns = -1, .exec_ns = 5000};
  hex(buf, pack_ev_started(buf, sizeof buf, &s));
  struct ev_error e = {.step = 0xffffffffu, .error_number = -5, .detail = "too long", .detail_len = 8};
  hex(buf, pack_ev_error(buf, EV_ERROR_BYTES + 3, &e));
  struct ev_exit x = {.wait_status = 0x300, .wall_ns = 123456789, .user_us = -1, .system_us = 1LL << 40, .max_rss_kib = 4096,
    .kill_reason = 2, .truncated = 3, .stdout_bytes = -1, .stderr_bytes = 7, .cpu_sample_us = 9007199254740993LL,
    .voluntary_switches = 5, .involuntary_switches = 6};
  hex(buf, pack_ev_exit(buf, sizeof buf, &x));
  hex(buf, pack_ev_done(buf, sizeof buf));
  unsigned char go[8] = {1, 0, 0, 0, 0, 0, 0, 0};
  uint32_t type, len;
  unpack_frame_header(go, &type, &len);
  printf("%u %u %d\\n", type, len, unpack_cmd_go(go + 8, len));
  return 0;
}
`;
    writeFileSync(join(dir, 't.c'), src);
    execFileSync(cc, ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-I', header, '-o', join(dir, 't'), join(dir, 't.c')]);
    const lines = execFileSync(join(dir, 't'), { encoding: 'utf8' }).trim().split('\n');
    const decode = (line: string) => {
      const { frames, rest } = splitFrames(Buffer.from(line, 'hex'));
      expect(frames).toHaveLength(1);
      expect(rest).toHaveLength(0);
      return decodeEvent(frames[0]!.type, frames[0]!.body);
    };
    expect(decode(lines[0]!)).toEqual({ name: 'NS_READY', values: { pid: 4242, syncId: 2 } });
    expect(decode(lines[1]!)).toEqual({ name: 'STARTED', values: { reaperPid: 77, reserved: 0, mapsNs: 1000n, namespacesNs: 2000n, pid1Ns: -1n, execNs: 5000n } });
    // the text is cut to the room given
    expect(decode(lines[2]!)).toEqual({ name: 'ERROR', values: { step: 0xffffffff, errorNumber: -5, detail: 'too' } });
    expect(decode(lines[3]!)).toEqual({ name: 'EXIT', values: SAMPLE_EXIT });
    expect(Buffer.from(lines[3]!, 'hex')).toEqual(encodeEvent('EXIT', SAMPLE_EXIT));
    expect(decode(lines[4]!)).toEqual({ name: 'DONE', values: {} });
    expect(lines[5]).toBe(`${Command.GO} 0 0`);
  });
});

// Renders src/stage/protocol.h from protocol.ts, so the C stage and the
// TypeScript side can never disagree on a number.
import { Command, CpuUsageFormat, Event, ForkFlag, KillReason, LimitFlag, Op, PLAN_MAGIC, PROTOCOL_VERSION, StageExit } from './protocol.js';

function defines(prefix: string, table: Record<string, number>): string[] {
  return Object.entries(table).map(([name, value]) => `#define ${prefix}${name} ${value}`);
}

export function renderProtocolHeader(): string {
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
    '#endif',
    '',
  ].join('\n');
}

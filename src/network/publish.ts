// Port publishing (-p [IP:]HOSTPORT:CTRPORT[/tcp|/udp]): a host port that
// leads to a port inside the sandbox. Bound to 127.0.0.1 unless an address
// is given, so a published port is never open to the network by accident.
import { isIP } from 'node:net';
import { SandboxError } from '../errors.js';

export interface PublishSpec {
  /** Host address the helper binds (127.0.0.1 unless given). */
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp';
}

const SYNTAX = 'use [IP:]HOSTPORT:CTRPORT[/tcp|/udp], e.g. -p 8080:80 or -p 127.0.0.1:5353:53/udp';

function port(text: string, what: string, value: string, where: string): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) {
    throw new SandboxError('usage', `invalid ${what} "${text}" in "${value}" (${where})`, `ports are 1 to 65535; ${SYNTAX}`);
  }
  return n;
}

export function parsePublish(value: string, where = '-p'): PublishSpec {
  let rest = value;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') throw new SandboxError('usage', `invalid protocol "${p}" in "${value}" (${where})`, SYNTAX);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = '127.0.0.1';
  // [IPv6]:H:C, IPv4:H:C or H:C
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  let ports: string[];
  if (v6) {
    hostIp = v6[1]!;
    ports = v6[2]!.split(':');
    if (isIP(hostIp) !== 6) throw new SandboxError('usage', `invalid IPv6 address "${hostIp}" in "${value}" (${where})`, SYNTAX);
  } else {
    const parts = rest.split(':');
    if (parts.length === 3) {
      hostIp = parts[0]!;
      if (isIP(hostIp) !== 4) throw new SandboxError('usage', `invalid IPv4 address "${hostIp}" in "${value}" (${where})`, `${SYNTAX}; write IPv6 addresses in brackets`);
    }
    ports = parts.length === 3 ? parts.slice(1) : parts;
  }
  if (ports.length !== 2) throw new SandboxError('usage', `invalid port mapping "${value}" (${where})`, SYNTAX);
  return {
    hostIp,
    hostPort: port(ports[0]!, 'host port', value, where),
    containerPort: port(ports[1]!, 'container port', value, where),
    protocol,
  };
}

/** Refuses two mappings of one host address, port and protocol. */
export function checkPublishUnique(specs: readonly PublishSpec[], where: string): void {
  const seen = new Set<string>();
  for (const s of specs) {
    const k = `${s.hostIp}|${s.hostPort}|${s.protocol}`;
    if (seen.has(k)) throw new SandboxError('usage', `host port ${s.hostIp}:${s.hostPort}/${s.protocol} is published twice (${where})`, 'publish each host port once');
    seen.add(k);
  }
}

/** "IP:HOSTPORT:CTRPORT/PROTO", for results and messages. */
export function formatPublish(s: PublishSpec): string {
  const ip = s.hostIp.includes(':') ? `[${s.hostIp}]` : s.hostIp;
  return `${ip}:${s.hostPort}:${s.containerPort}/${s.protocol}`;
}

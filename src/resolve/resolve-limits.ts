// Limits: flags over the profile, units made exact (microseconds, bytes).
// Pure. Errors name the flag or the profile field.
import type { ProfileLimits } from '../config/profile.js';
import { SandboxError } from '../errors.js';
import { INFINITY, UNLIMITED, type LimitOptions } from './exec-options.js';
import { parseSize } from './parse-options.js';
import type { LimitsSpec } from './run-spec.js';

const FLAGS: Record<keyof LimitOptions, string> = {
  cpuTime: '--cpu-time', wallTime: '--wall-time', memory: '--memory', pids: '--pids',
  fsize: '--fsize', nofile: '--nofile', stack: '--stack', output: '--output-limit', addressSpace: 'addressSpace',
};

function seconds(value: number | undefined, where: string): number | null {
  if (value === undefined) return null;
  if (!Number.isFinite(value) || value <= 0 || value > 365 * 86400) {
    throw new SandboxError('usage', `invalid time "${value}" (${where})`, 'give seconds, fractions allowed, e.g. 1.5');
  }
  return Math.round(value * 1e6);
}

function bytes(value: number | string | undefined, where: string): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) throw new SandboxError('usage', `invalid size "${value}" (${where})`, 'give bytes, or a k, m or g suffix');
    return value;
  }
  return parseSize(value, where);
}

function count(value: number | undefined, where: string): number | null {
  if (value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 1) throw new SandboxError('usage', `invalid count "${value}" (${where})`, 'give a whole number of at least 1');
  return value;
}

export function resolveLimits(flags: LimitOptions, profile: ProfileLimits, profileFile: string): LimitsSpec {
  // "unlimited" from a flag lifts the profile's limit: it resolves like an absent one
  const pick = <K extends keyof LimitOptions>(k: K) =>
    flags[k] === UNLIMITED ? { value: undefined, where: FLAGS[k] }
      : flags[k] !== undefined ? { value: flags[k], where: FLAGS[k] }
        : { value: profile[k] as LimitOptions[K], where: `${profileFile}#/limits/${k}` };
  const t = (k: 'cpuTime' | 'wallTime') => { const p = pick(k); return seconds(p.value as number | undefined, p.where); };
  const b = (k: 'memory' | 'fsize' | 'stack' | 'output' | 'addressSpace') => { const p = pick(k); return bytes(p.value as number | string | undefined, p.where); };
  const c = (k: 'pids' | 'nofile') => { const p = pick(k); return count(p.value as number | undefined, p.where); };
  return {
    cpuTimeUs: t('cpuTime'),
    wallTimeUs: t('wallTime'),
    memoryBytes: b('memory'),
    pids: c('pids'),
    fsizeBytes: b('fsize'),
    nofile: c('nofile'),
    stackBytes: flags.stack === INFINITY ? 'infinity' : b('stack'),
    outputBytes: b('output'),
    addressSpaceBytes: b('addressSpace'),
  };
}

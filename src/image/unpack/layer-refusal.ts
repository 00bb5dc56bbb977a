// The one error a layer entry gets when a safety rule refuses it: a
// SandboxError with code 'config' whose message names the entry (as the
// archive spelled it, control characters escaped) and the rule it broke.
// Must not: decide policy (which rules exist lives in the callers).
import { SandboxError } from '../../errors.js';

const HINT =
  'the layer archive is malformed or hostile; nothing of it may be used: remove the target directory (removeTree) and reject the layer';

/** Makes an entry name printable: NUL and other control characters become \xNN. */
export function printableEntryName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function layerRefusal(entryName: string, rule: string): SandboxError {
  return new SandboxError('config', `layer entry '${printableEntryName(entryName)}': ${rule}`, HINT);
}

/** An error that stops the whole layer (limits, broken archives), not tied to a single rule. */
export function layerError(message: string, hint?: string): SandboxError {
  return new SandboxError('config', `layer: ${message}`, hint ?? HINT);
}

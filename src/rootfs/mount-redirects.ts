// Image symlinks that would send a mount of the run onto the root of the
// sandbox (/proc -> .., /tmp -> /, a volume target -> ../../..): the stage
// resolves every mount target inside the new root, so such a link cannot
// lead out, but the mount then covers the whole image and the run ends in a
// puzzling "no such program". This check walks each target through the
// image's layers as the overlay shows them (the topmost layer that has a
// name decides; a whiteout hides it) and refuses, naming the link.
// Must not: follow a link on the host (links are read, never followed), or
// write anything. Opaque directories are not looked at: a link hidden by one
// is still seen here (a refusal of a rare image rather than a wrong run).
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../errors.js';
import type { RunSpec } from '../resolve/run-spec.js';
import { generatedEtcFiles } from './generated-etc.js';

type Entry = { kind: 'dir' } | { kind: 'symlink'; target: string } | { kind: 'other' } | { kind: 'absent' };

const MAX_LINKS = 40;

/** What `parts` (already resolved, no links) is in the merged image. */
function entryAt(layers: readonly string[], parts: readonly string[]): Entry {
  const name = parts[parts.length - 1]!;
  for (let i = layers.length - 1; i >= 0; i--) {
    const dir = join(layers[i]!, ...parts.slice(0, -1));
    try {
      lstatSync(join(dir, `.wh.${name}`));
      return { kind: 'absent' }; // an OCI whiteout kept as a file (fuse-overlayfs layers)
    } catch {
      /* no whiteout file */
    }
    let st;
    try {
      st = lstatSync(join(dir, name));
    } catch {
      continue;
    }
    if (st.isCharacterDevice() && st.rdev === 0) return { kind: 'absent' }; // overlayfs whiteout
    if (st.isSymbolicLink()) {
      try {
        return { kind: 'symlink', target: readlinkSync(join(dir, name)) };
      } catch {
        return { kind: 'other' };
      }
    }
    return st.isDirectory() ? { kind: 'dir' } : { kind: 'other' };
  }
  return { kind: 'absent' };
}

export interface Redirect {
  /** The link in the image and its target as written. */
  readonly link: string;
  readonly to: string;
}

/**
 * The image link that resolves `target` (an absolute path in the sandbox) to
 * the root itself, as the stage would resolve it inside the root; null when
 * the target is not the root.
 */
export function rootRedirect(layers: readonly string[], target: string): Redirect | null {
  let done: string[] = [];
  let todo = target.split('/').filter(Boolean);
  if (todo.length === 0) return null; // the root itself is named: not a redirect
  let last: Redirect | null = null;
  let links = 0;
  while (todo.length) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const entry = entryAt(layers, [...done, name]);
    if (entry.kind === 'symlink') {
      if (++links > MAX_LINKS) return null; // ELOOP: the stage says so itself
      last = { link: `/${[...done, name].join('/')}`, to: entry.target };
      if (entry.target.startsWith('/')) done = [];
      todo = [...entry.target.split('/').filter(Boolean), ...todo];
      continue;
    }
    done.push(name);
    if (entry.kind !== 'dir') {
      // the rest is made by the stage or fails there: resolved lexically
      for (const rest of todo) {
        if (rest === '..') done.pop();
        else if (rest !== '.') done.push(rest);
      }
      break;
    }
  }
  return done.length === 0 ? last : null;
}

/** The mount targets of an image run that image content could redirect, with what is mounted there. */
function mountTargets(spec: RunSpec): { path: string; what: string }[] {
  return [
    ...generatedEtcFiles(spec).map((f) => ({ path: f.path, what: `the generated ${f.path}` })),
    { path: '/proc', what: 'the /proc mount' },
    { path: '/sys', what: 'the /sys mount' },
    { path: '/dev', what: 'the /dev mount' },
    ...spec.tmpfs.map((t) => ({ path: t.path, what: `the tmpfs on ${t.path}` })),
    ...spec.volumes.map((v) => ({ path: v.target, what: `the volume ${v.source}:${v.target}` })),
  ];
}

/** Refuses (exit 125) an image run whose image redirects one of its mounts onto the root. */
export function checkMountRedirects(spec: RunSpec): void {
  if (spec.image.kind !== 'oci') return;
  for (const m of mountTargets(spec)) {
    const r = rootRedirect(spec.image.layers, m.path);
    if (!r) continue;
    throw new SandboxError('config',
      `image ${spec.image.ref}: the symlink '${r.link}' -> '${r.to}' in the image redirects ${m.what} onto the root of the sandbox (${m.path} resolves to /)`,
      `a mount there would cover the whole image; fix the image (make ${r.link} a directory, or a link inside the image) or mount elsewhere`);
  }
}

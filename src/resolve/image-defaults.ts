// What an OCI image's config contributes to a run, the way `podman run`
// applies it: the command is Entrypoint + (the given command, else Cmd); Env
// comes first and flags override it; WorkingDir and User apply unless -w/-u
// say otherwise. User names are looked up in the image's own /etc/passwd
// and /etc/group (read by the caller from the layers and passed as text).
// Must not: read files (pure; see run/prepare-image.ts).
import { SandboxError } from '../errors.js';
import type { OverlayDriver } from '../rootfs/choose-overlay.js';

/** The parts of an OCI image config ("config" object) a run uses. */
export interface ImageRunConfig {
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly Env?: readonly string[] | null;
  readonly WorkingDir?: string;
  readonly User?: string;
}

/** An image resolved to unpacked layers, plus what the run needs of it. */
export interface ResolvedImage {
  /** What the caller asked for ("alpine", "oci:dir:tag", ...). */
  readonly ref: string;
  /** Manifest digest, or "" for a plain directory. */
  readonly digest: string;
  /** Unpacked layer directories on the host, bottom layer first. */
  readonly layers: readonly string[];
  /** How they are merged into a root. */
  readonly overlay: OverlayDriver;
  readonly config: ImageRunConfig;
  /** The image's /etc/passwd and /etc/group (null: the image has none). */
  readonly passwd: string | null;
  readonly group: string | null;
  /** Why passwd or group may be incomplete (cut after 1 MiB, unreadable): said when a name is not found. */
  readonly passwdNote?: string;
  readonly groupNote?: string;
}

export interface ImageUser {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
  readonly home: string;
}

type PasswdEntry = { name: string; uid: number; gid: number; home: string };

function passwdEntries(text: string | null): PasswdEntry[] {
  if (!text) return [];
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return [];
    return [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }];
  });
}

function groupId(text: string | null, name: string): number | null {
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return null;
}

const ID_MAX = 2 ** 32 - 2;

function numericId(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n <= ID_MAX ? n : null;
}

/**
 * "user", "uid", "user:group", "uid:gid" (as the image config's User or -u
 * say it) to ids, with the image's passwd/group. `where` names the source.
 */
export function resolveImageUser(spec: string, image: Pick<ResolvedImage, 'passwd' | 'group' | 'ref' | 'passwdNote' | 'groupNote'>, where: string): ImageUser {
  const [u = '', g, ...rest] = spec.split(':');
  if (u === '' || rest.length || g === '') {
    throw new SandboxError('usage', `invalid user "${spec}" (${where})`, 'use USER, UID, USER:GROUP or UID:GID');
  }
  const entries = passwdEntries(image.passwd);
  const uidNum = numericId(u);
  const entry = uidNum === null ? entries.find((e) => e.name === u) : entries.find((e) => e.uid === uidNum);
  if (uidNum === null && !entry) {
    throw new SandboxError('usage', `user "${u}" (${where}) is not in the image's /etc/passwd (${image.ref})${image.passwdNote ? `: ${image.passwdNote}` : ''}`,
      'give a numeric uid, or a user the image defines');
  }
  const uid = uidNum ?? entry!.uid;
  let gid: number;
  if (g === undefined) gid = entry?.gid ?? uid;
  else {
    const gidNum = numericId(g) ?? groupId(image.group, g);
    if (gidNum === null) {
      throw new SandboxError('usage', `group "${g}" (${where}) is not in the image's /etc/group (${image.ref})${image.groupNote ? `: ${image.groupNote}` : ''}`,
        'give a numeric gid, or a group the image defines');
    }
    gid = gidNum;
  }
  // podman's default: HOME from passwd, else /
  return { uid, gid, name: entry?.name ?? String(uid), home: entry?.home || '/' };
}

/** Entrypoint + (the command given, else Cmd); an empty result is an error the caller words. */
export function imageArgv(config: ImageRunConfig, command: readonly string[]): string[] {
  const entrypoint = config.Entrypoint ?? [];
  return [...entrypoint, ...(command.length ? command : config.Cmd ?? [])];
}

/** The image's Env as a map (later entries win, as in the kernel's view of duplicates). */
export function imageEnv(config: ImageRunConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of config.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

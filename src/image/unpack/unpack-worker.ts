// The unpack worker: bundled into dist/unpack-worker.cjs and executed by the
// stage as uid 0 of a user namespace with the image id map (userns-worker.ts
// builds that plan), so chown works.
// The stage chdir'ed into the directory to work on while it could still
// reach it; the worker names it /proc/self/cwd and never walks the host path
// (root's store may sit below /root, which root's subordinate ids cannot search).
//   argv[2] = JSON request:
//     {"op":"unpack","options":{...}}  stdin: the verified layer blob; cwd: the empty target
//     {"op":"read-etc","layers":[...],"paths":[...]}  cwd: the directory holding the layers (an image
//        /etc/passwd of mode 0600 owned by an id inside is readable only there)
//   stdout: one JSON line, {"ok":true,...} or {"ok":false,"error":{code,message,hint}}.
// Must not: read anything but stdin and the cwd tree, follow a symlink, or
// touch a path outside the cwd. (Trees are removed by the stage's CLEAR_DIR,
// strictly through descriptors: remove-tree-in-userns.ts.)
import { createReadStream } from 'node:fs';
import { isSandboxError, SandboxError } from '../../errors.js';
import { unpackLayer, type UnpackOptions } from './unpack-layer.js';
import { readImageFileNoted } from '../../run/image-etc.js';

/** Options the worker accepts for 'unpack' (JSON: no streams, no functions). */
export type WorkerUnpackOptions = Pick<UnpackOptions, 'compression' | 'maxBytes' | 'maxEntries' | 'whiteouts' | 'chown' | 'strict' | 'expectDiffId'>;

export type WorkerRequest =
  | { op: 'unpack'; options: WorkerUnpackOptions }
  /** Reads small /etc files of an image as the overlay shows them (layers: directory names in the cwd, bottom first). */
  | { op: 'read-etc'; layers: string[]; paths: string[] };

export type WorkerReply =
  | { ok: true; report?: unknown }
  | { ok: false; error: { code: string; message: string; hint?: string } };

/** The directory the stage left us in, without walking the host path to it. */
const CWD = '/proc/self/cwd';

function reply(r: WorkerReply): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(r)}\n`, () => resolve()));
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? 'null') as WorkerRequest;
  if (request?.op === 'unpack') {
    const source = createReadStream('', { fd: 0 });
    const report = await unpackLayer(source, CWD, { ...request.options, targetIsResolved: true });
    return reply({ ok: true, report });
  }
  if (request?.op === 'read-etc') {
    if (request.layers.some((l) => l.includes('/') || l === '..' || l === '.')) throw new SandboxError('internal', 'unpack worker: a layer name with a slash', 'a bug: report it');
    const layers = request.layers.map((l) => `${CWD}/${l}`);
    const files = Object.fromEntries(request.paths.map((p) => [p, readImageFileNoted(layers, p)]));
    return reply({ ok: true, report: files });
  }
  throw new SandboxError('internal', `unpack worker: unknown request ${process.argv[2]}`, 'the sandbox and its worker are from different builds: reinstall');
}

main().then(
  () => process.exit(0),
  async (e: unknown) => {
    const error = isSandboxError(e)
      ? { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
      : { code: 'setup', message: `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message ?? String(e)}`.trim() };
    await reply({ ok: false, error });
    process.exit(1);
  },
);

// `sandbox image ls | pull | load | inspect | rm | prune | tag`: the image
// store from the command line. Output like podman's where a user would
// compare (ls columns, "Loaded image: NAME", the ID pull prints); --json
// where a script would read it. Progress only on a terminal's stderr.
// Must not: know how images are pulled, loaded or stored (src/image/).
import type { Command } from 'commander';
import { parseBool } from './parse-bool.js';
import { SandboxError } from '../errors.js';
import { findImage, normaliseImageName } from '../image/find-image.js';
import { isLoadable, loadImage, loadImageFile } from '../image/load/load-image.js';
import { pullIntoStore } from '../image/pull-into-store.js';
import { parseDockerReference, parseImageReference } from '../image/registry/parse-reference.js';
import { type ImageStore, type StoredImage } from '../image/store/image-store.js';
import { openStore } from '../image/store/image-store.js';
import { formatAge, formatBytes } from './format-size.js';
import { layerProgress } from './layer-progress.js';
import { reportError } from './report-error.js';

interface StoreFlag { store?: string }

function guarded<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

function storeOption(cmd: Command): Command {
  return cmd.option('--store <dir>', 'the image store (default $SANDBOX_STORE, else $XDG_DATA_HOME/rootless-sandbox/store; for root /var/lib/rootless-sandbox/store)');
}

// layers unpacked with owners are removed (prune) inside the user namespace
const open = (flags: StoreFlag): Promise<ImageStore> => openStore(flags.store);

export const imageId = (i: StoredImage) => i.configDigest.slice(7);
const imageSize = (i: StoredImage) => i.layers.reduce((n, l) => n + l.size, 0);
const createdOf = (i: StoredImage) => (typeof i.config.created === 'string' ? i.config.created : i.created);

/** REPOSITORY and TAG of a store name (a digest-pinned name has no tag). */
function splitName(name: string): { repository: string; tag: string } {
  const at = name.indexOf('@');
  if (at >= 0) return { repository: name.slice(0, at), tag: '<none>' };
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? { repository: name.slice(0, colon), tag: name.slice(colon + 1) } : { repository: name, tag: '<none>' };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 2))).join('').trimEnd()).join('\n') + '\n';
}

function summary(i: StoredImage) {
  return {
    id: imageId(i),
    digest: i.manifestDigest,
    names: i.names,
    created: createdOf(i),
    platform: i.platform,
    size: imageSize(i),
    layers: i.layers.length,
  };
}

function inspectJson(i: StoredImage) {
  const c = i.config.config ?? {};
  return {
    Id: imageId(i),
    Digest: i.manifestDigest,
    RepoTags: i.names,
    Created: createdOf(i),
    Stored: i.created,
    Architecture: i.config.architecture ?? null,
    Os: i.config.os ?? null,
    Variant: i.config.variant ?? null,
    Platform: i.platform,
    Size: imageSize(i),
    Config: {
      Env: c.Env ?? [],
      Entrypoint: c.Entrypoint ?? null,
      Cmd: c.Cmd ?? null,
      WorkingDir: c.WorkingDir ?? '',
      User: c.User ?? '',
      Labels: (c['Labels'] as Record<string, string> | undefined) ?? {},
      ExposedPorts: (c['ExposedPorts'] as object | undefined) ?? {},
      StopSignal: (c['StopSignal'] as string | undefined) ?? null,
    },
    RootFS: { Type: 'layers', Layers: i.layers.map((l) => l.diffId) },
    Layers: i.layers.map((l) => ({ Digest: l.digest, DiffID: l.diffId, Size: l.size, MediaType: l.mediaType })),
  };
}

function inspectText(i: StoredImage): string {
  const j = inspectJson(i);
  const list = (v: readonly string[] | null) => (v === null ? '(none)' : JSON.stringify(v));
  const lines = [
    `ID:          ${j.Id}`,
    `Digest:      ${j.Digest}`,
    `Names:       ${j.RepoTags.length ? j.RepoTags.join(', ') : '<none>'}`,
    `Created:     ${j.Created}`,
    `Platform:    ${j.Platform}`,
    `Size:        ${formatBytes(j.Size)} (${j.Layers.length} layer${j.Layers.length === 1 ? '' : 's'}, compressed)`,
    `Entrypoint:  ${list(j.Config.Entrypoint)}`,
    `Cmd:         ${list(j.Config.Cmd)}`,
    `WorkingDir:  ${j.Config.WorkingDir || '/'}`,
    `User:        ${j.Config.User || '(root)'}`,
    'Env:',
    ...j.Config.Env.map((e) => `  ${e}`),
    'Labels:',
    ...Object.entries(j.Config.Labels).map(([k, v]) => `  ${k}=${v}`),
    'Layers:',
    ...j.Layers.map((l) => `  ${l.Digest}  ${formatBytes(l.Size).padStart(9)}  diff ${l.DiffID}`),
  ];
  return `${lines.join('\n')}\n`;
}

async function mustFind(store: ImageStore, ref: string): Promise<StoredImage> {
  const image = await findImage(store, ref);
  if (!image) throw new SandboxError('config', `no image "${ref}" in the store ${store.root}`, 'list the stored images: sandbox image ls');
  return image;
}

export function registerImageCommand(program: Command): void {
  const image = program.command('image').description('manage the image store: ls, pull, load, inspect, rm, prune, tag');

  storeOption(image.command('ls').alias('list').description('list stored images (REPOSITORY TAG IMAGE ID CREATED SIZE)'))
    .option('--json', 'print a JSON array')
    .action(guarded(async (flags: StoreFlag & { json?: boolean }) => {
      const images = await (await open(flags)).listImages();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(images.map(summary), null, 2)}\n`);
        return;
      }
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
      for (const i of [...images].reverse()) {
        const names = i.names.length ? i.names : ['<none>'];
        for (const n of names) {
          const { repository, tag } = n === '<none>' ? { repository: '<none>', tag: '<none>' } : splitName(n);
          rows.push([repository, tag, imageId(i).slice(0, 12), formatAge(createdOf(i)), formatBytes(imageSize(i))]);
        }
      }
      process.stdout.write(table(rows));
    }));

  storeOption(image.command('pull').description('pull an image from a registry into the store').argument('<ref>', 'NAME[:TAG|@DIGEST] or docker://...'))
    .option('--platform <os/arch>', 'the platform to pick from a multi-platform image (default the host\'s)')
    .option('--tls-verify [bool]', 'verify the registry\'s certificate (--tls-verify=false also allows plain HTTP)', parseBool('--tls-verify'))
    .option('-q, --quiet', 'no progress; print only the image ID')
    .action(guarded(async (ref: string, flags: StoreFlag & { platform?: string; tlsVerify?: boolean; quiet?: boolean }) => {
      const parsed = parseImageReference(ref);
      if (parsed.transport !== 'docker') {
        throw new SandboxError('usage', `"${ref}" is not a registry reference`, isLoadable(parsed) ? `load it: sandbox image load ${ref}` : 'name an image like alpine:3.20 or docker://registry/name:tag');
      }
      const store = await open(flags);
      const progress = layerProgress({ quiet: flags.quiet ?? false });
      let pulled: StoredImage;
      try {
        pulled = await pullIntoStore(store, parsed, {
          ...(flags.platform ? { platform: flags.platform } : {}),
          ...(flags.tlsVerify !== undefined ? { tlsVerify: flags.tlsVerify } : {}),
          ...(progress.onProgress ? { progress: progress.onProgress } : {}),
        });
      } finally {
        progress.stop();
      }
      process.stdout.write(`${imageId(pulled)}\n`);
    }));

  storeOption(image.command('load').description('load an image from an archive (podman/docker save) or an OCI layout')
    .argument('[ref]', 'FILE (oci-archive or docker-archive, sniffed), DIR (OCI layout), or oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME]'))
    .option('-i, --input <file>', 'the archive to load (as podman load -i)')
    .option('--platform <os/arch>', 'the platform to pick from a multi-platform layout')
    .option('--name <name>', 'also record the image under this name')
    .option('-q, --quiet', 'no progress')
    .action(guarded(async (ref: string | undefined, flags: StoreFlag & { input?: string; platform?: string; name?: string; quiet?: boolean }) => {
      const what = ref ?? flags.input;
      if (!what) throw new SandboxError('usage', 'image load needs an archive or layout', 'sandbox image load FILE, or -i FILE');
      if (ref && flags.input) throw new SandboxError('usage', 'give the archive once: as an argument or with -i', `sandbox image load ${ref}`);
      const store = await open(flags);
      const progress = layerProgress({ quiet: flags.quiet ?? false });
      const opts = {
        ...(flags.platform ? { platform: flags.platform } : {}),
        ...(flags.name ? { names: [flags.name] } : {}),
        ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
      };
      let loaded: StoredImage;
      try {
        const parsed = /^(oci|oci-archive|docker-archive):/.test(what) ? parseImageReference(what) : null;
        loaded = parsed && isLoadable(parsed) ? await loadImage(store, parsed, opts) : await loadImageFile(store, what, opts);
      } finally {
        progress.stop();
      }
      const names = loaded.names.length ? loaded.names : [`sha256:${imageId(loaded)}`];
      process.stdout.write(names.map((n) => `Loaded image: ${n}\n`).join(''));
    }));

  storeOption(image.command('inspect').description('show an image\'s config (Env, Entrypoint, Cmd, WorkingDir, User, Labels), layers and digests')
    .argument('<ref>', 'a name, an image ID (prefix) or a digest'))
    .option('--json', 'print JSON')
    .action(guarded(async (ref: string, flags: StoreFlag & { json?: boolean }) => {
      const found = await mustFind(await open(flags), ref);
      process.stdout.write(flags.json ? `${JSON.stringify(inspectJson(found), null, 2)}\n` : inspectText(found));
    }));

  storeOption(image.command('rm').alias('rmi').description('remove images from the store (a name of an image with other names only untags it; layers go with the next prune)')
    .argument('<ref...>', 'names, image IDs or digests'))
    .action(guarded(async (refs: string[], flags: StoreFlag) => {
      const store = await open(flags);
      let failed: unknown = null;
      for (const ref of refs) {
        try {
          const found = await mustFind(store, ref);
          const name = normaliseImageName(ref);
          // as podman: a name of an image that has others only loses that name
          if (name && found.names.includes(name) && found.names.length > 1) {
            await store.removeName(name);
            process.stdout.write(`Untagged: ${name}\n`);
            continue;
          }
          await store.removeImage(found.manifestDigest);
          for (const n of found.names) process.stdout.write(`Untagged: ${n}\n`);
          process.stdout.write(`Deleted: ${imageId(found)}\n`);
        } catch (e) {
          // go on with the others, as podman does; the exit status says one failed
          if (failed) reportError(failed);
          failed = e;
        }
      }
      if (failed) throw failed;
    }));

  storeOption(image.command('prune').description('remove images without a name, then every blob and layer no image uses'))
    .option('--grace <seconds>', 'keep unused blobs and layers younger than this: a pull in progress has not recorded its image yet', '3600')
    .option('--json', 'print what was removed as JSON')
    .action(guarded(async (flags: StoreFlag & { grace: string; json?: boolean }) => {
      const grace = Number(flags.grace);
      if (!/^\d+$/.test(flags.grace) || !Number.isSafeInteger(grace)) {
        throw new SandboxError('usage', `--grace takes whole seconds, not "${flags.grace}"`, 'e.g. --grace 0 to remove everything unused now');
      }
      const store = await open(flags);
      const removedImages: string[] = [];
      for (const i of await store.listImages()) {
        if (i.names.length === 0) {
          await store.removeImage(i.manifestDigest);
          removedImages.push(imageId(i));
        }
      }
      const report = await store.prune({ graceMs: grace * 1000 });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ removedImages, ...report }, null, 2)}\n`);
        return;
      }
      for (const id of removedImages) process.stdout.write(`Deleted: ${id}\n`);
      process.stdout.write(`removed ${report.removedLayers.length} layer${report.removedLayers.length === 1 ? '' : 's'} and ${report.removedBlobs.length} blob${report.removedBlobs.length === 1 ? '' : 's'}, freed ${formatBytes(report.freedBytes)}\n`);
      if (report.busyLayers.length) process.stderr.write(`note: ${report.busyLayers.length} unused layer(s) are in use by another sandbox process and were kept\n`);
    }));

  storeOption(image.command('tag').description('give a stored image another name').argument('<image>', 'a name, image ID or digest').argument('<name>', 'the new name, REPOSITORY[:TAG]'))
    .action(guarded(async (src: string, name: string, flags: StoreFlag) => {
      const store = await open(flags);
      const found = await mustFind(store, src);
      const target = parseDockerReference(name);
      if (target.digest) throw new SandboxError('usage', `"${name}" names a digest: a name is REPOSITORY[:TAG]`, 'leave out the @sha256:... part');
      await store.putImage(found, [normaliseImageName(name) ?? target.canonical]);
    }));
}

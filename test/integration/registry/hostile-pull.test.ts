// Pulls from a hostile registry (a tiny server on 127.0.0.1, hostile-registry.ts)
// through the real CLI, as root and as the unprivileged test user: a layer
// descriptor with a negative size over an endless blob, a config over the
// 4 MiB limit, a config with wrong JSON types, an oversized manifest and an
// index with a negative size. Each must end in 125 with the field named,
// before the hostile blob is fetched, and leave no image in the store.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/image/store/image-store.js';
import { IDENTITIES, ME, runCli, type Identity } from '../harness.js';
import { layer } from '../../unit/image/load/image-builder.js';
import { sha, startHostileRegistry, type HostileRegistry } from './hostile-registry.js';

const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const MiB = 1024 * 1024;

let reg: HostileRegistry;
let work: string;
let goodLayer: Buffer;

beforeAll(async () => {
  reg = await startHostileRegistry();
  work = mkdtempSync(join(tmpdir(), 'hostile-pull-test-'));
  chmodSync(work, 0o755);
  goodLayer = await layer({ hello: 'hi\n' });
  reg.blob(sha(goodLayer), goodLayer);
});
afterAll(async () => {
  await reg?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A config blob served by the registry, and its descriptor. */
function config(value: object): { mediaType: string; digest: string; size: number } {
  const raw = Buffer.from(JSON.stringify(value));
  reg.blob(sha(raw), raw);
  return { mediaType: CONFIG_TYPE, digest: sha(raw), size: raw.length };
}

const goodConfig = (extra: object = {}) => ({
  architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello'] },
  rootfs: { type: 'layers', diff_ids: [sha(goodLayer)] }, ...extra,
});
const goodLayerDescriptor = () => ({ mediaType: LAYER_TYPE, digest: sha(goodLayer), size: goodLayer.length });

describe.each(IDENTITIES)('pulls from a hostile registry as $name', (who: Identity) => {
  let store: string;
  beforeAll(() => {
    store = join(work, `${who.name}-store`);
    mkdirSync(store, { mode: 0o700 });
    chownSync(store, who.uid, who.gid);
  });
  const pull = (ref: string) => runCli(['image', 'pull', '--store', store, '--tls-verify=false', ref], { as: who, timeoutMs: 30_000 });
  const run = (ref: string) => runCli(['exec', '--store', store, '--tls-verify=false', ref, '--', '/hello'], { as: who, timeoutMs: 30_000 });
  const stored = async () => (await runCli(['image', 'ls', '--store', store, '--json'], { as: who })).stdout;

  it('a layer of size -1 over an endless blob: refused before any byte of it is fetched', async () => {
    const endless = sha(Buffer.from(`endless-${who.name}`));
    // an old client was seen at 500 MB and growing; the server stops at 64 MiB so a regression ends
    reg.blob(endless, { endless: true, stopAfter: 64 * MiB });
    reg.manifest('hostile/negative', who.name, {
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: config(goodConfig()), layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: endless, size: -1 }],
    });
    const ref = `${reg.host}/hostile/negative:${who.name}`;
    const started = Date.now();
    for (const r of [await pull(ref), await run(ref)]) {
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).toBe(125);
      expect(r.stderr).toMatch(/hostile\/negative:\w+ \(manifest sha256:[a-f0-9]{64} \/layers\/0\/size\): -1 is not a byte count/);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(reg.sent(endless)).toBe(0);
    expect(await stored()).not.toContain('hostile/negative');
  });

  it('a config over 4 MiB: refused from its descriptor, never downloaded', async () => {
    // a valid image but for the size of its config (a label that pads it to 8 MiB)
    const big = config(goodConfig({ config: { Cmd: ['/hello'], Labels: { pad: 'x'.repeat(8 * MiB) } } }));
    reg.manifest('hostile/big-config', who.name, { schemaVersion: 2, config: big, layers: [goodLayerDescriptor()] });
    const r = await pull(`${reg.host}/hostile/big-config:${who.name}`);
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toContain(`/config/size): the config is ${big.size} bytes, more than the 4194304 allowed`);
    expect(reg.sent(big.digest)).toBe(0);
    expect(await stored()).not.toContain('hostile/big-config');
  });

  it('a config with wrong JSON types: refused at pull and at exec, the field named, no internal error', async () => {
    const cases: [string, object, string][] = [
      ['cmd-number', { Cmd: 5 }, '/config/Cmd: must be array'],
      ['env-items', { Env: [123], Cmd: ['/hello'] }, '/config/Env/0: must be string'],
      ['user-number', { User: 1000, Cmd: ['/hello'] }, '/config/User: must be string'],
    ];
    for (const [name, bad, problem] of cases) {
      const c = config(goodConfig({ config: bad }));
      reg.manifest(`hostile/${name}`, who.name, { schemaVersion: 2, config: c, layers: [goodLayerDescriptor()] });
      const ref = `${reg.host}/hostile/${name}:${who.name}`;
      for (const r of [await pull(ref), await run(ref)]) {
        expect(r.code, r.stderr).toBe(125);
        expect(r.stderr).toContain(`(config ${c.digest}): invalid image config: ${problem}`);
        expect(r.stderr).toMatch(/hint: the image config does not follow the OCI image spec/);
        expect(r.stderr).not.toMatch(/internal error|TypeError/);
      }
    }
    // the same image with a valid config pulls and runs: the refusals above were about the fields
    const fine = config(goodConfig());
    reg.manifest('hostile/fine', who.name, { schemaVersion: 2, config: fine, layers: [goodLayerDescriptor()] });
    expect((await pull(`${reg.host}/hostile/fine:${who.name}`)).code).toBe(0);
  });

  it('a manifest over 4 MiB and an index entry of size -1 are refused', async () => {
    const padded = { schemaVersion: 2, config: config(goodConfig()), layers: [goodLayerDescriptor()], annotations: { pad: 'x'.repeat(5 * MiB) } };
    reg.manifest('hostile/big-manifest', who.name, padded);
    const big = await pull(`${reg.host}/hostile/big-manifest:${who.name}`);
    expect(big.code).toBe(125);
    expect(big.stderr).toMatch(/manifest .*hostile\/big-manifest:\w+ is larger than 4194304 bytes/);

    const inner = reg.manifest('hostile/index-inner', who.name, { schemaVersion: 2, config: config(goodConfig()), layers: [goodLayerDescriptor()] });
    reg.manifest('hostile/index', who.name, {
      schemaVersion: 2, mediaType: INDEX_TYPE,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: inner, size: -1, platform: { os: 'linux', architecture: 'amd64' } }],
    }, INDEX_TYPE);
    const index = await pull(`${reg.host}/hostile/index:${who.name}`);
    expect(index.code).toBe(125);
    expect(index.stderr).toMatch(/\(index sha256:[a-f0-9]{64} \/manifests\/0\/size\): -1 is not a byte count/);
  });
});

describe('an image stored before configs were checked', () => {
  it('is refused at exec with the field named and how to fix it, not an internal error', async () => {
    const store = join(work, 'old-record-store');
    mkdirSync(store, { mode: 0o700 });
    const c = config(goodConfig());
    reg.manifest('hostile/old-record', 'v1', { schemaVersion: 2, config: c, layers: [goodLayerDescriptor()] });
    const ref = `${reg.host}/hostile/old-record:v1`;
    expect((await runCli(['image', 'pull', '--store', store, '--tls-verify=false', ref], { as: ME })).code).toBe(0);
    // what an older version recorded: the record's config, unchecked
    const s = await openStore(store);
    const image = (await s.getImage(ref))!;
    await s.putImage({ manifestDigest: image.manifestDigest, configDigest: image.configDigest, layers: image.layers,
      config: { ...image.config, config: { Cmd: 5 } as never } }, [ref]);
    const r = await runCli(['exec', '--store', store, '--pull', 'never', ref], { as: ME });
    expect(r.code, r.stderr).toBe(125);
    expect(r.stderr).toContain(`${ref} (stored config ${c.digest}): invalid image config: /config/Cmd: must be array`);
    expect(r.stderr).toContain(`hint: the image was stored without this check: remove it (sandbox image rm ${ref})`);
  });
});

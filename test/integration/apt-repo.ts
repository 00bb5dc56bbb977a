// A tiny Debian repository on the host's 127.0.0.1, for `apt-get install`
// inside image runs without reaching any outside mirror: one package built
// with dpkg-deb (it prints a line), a flat Packages index, served over HTTP
// by this process. Runs reach it with --network pasta:allow-host-loopback.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PACKAGE = 'sbtest-hello';
export const PACKAGE_SAYS = 'hello from sbtest-hello';

export const haveDpkgDeb = spawnSync('dpkg-deb', ['--version']).status === 0;
if (!haveDpkgDeb) console.warn('apt tests skipped: dpkg-deb is missing (Debian: dpkg)');

export interface AptRepo {
  /** The sources.list line for the sandbox. */
  readonly sourcesLine: string;
  close(): Promise<void>;
}

export async function startAptRepo(): Promise<AptRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-apt-'));
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(pkg, 'DEBIAN', 'control'), [
    `Package: ${PACKAGE}`, 'Version: 1.0', 'Architecture: all', 'Maintainer: rootless-sandbox tests <tests@localhost>',
    'Description: prints a greeting (a rootless-sandbox test package)', '',
  ].join('\n'));
  writeFileSync(join(pkg, 'usr', 'bin', PACKAGE), `#!/bin/sh\necho "${PACKAGE_SAYS}"\n`);
  chmodSync(join(pkg, 'usr', 'bin', PACKAGE), 0o755);
  const debName = `${PACKAGE}_1.0_all.deb`;
  execFileSync('dpkg-deb', ['--root-owner-group', '-b', pkg, join(dir, debName)], { stdio: 'ignore' });
  const deb = readFileSync(join(dir, debName));
  const control = execFileSync('dpkg-deb', ['-f', join(dir, debName)], { encoding: 'utf8' }).trimEnd();
  const packages = `${control}\nFilename: ./${debName}\nSize: ${deb.length}\nSHA256: ${createHash('sha256').update(deb).digest('hex')}\n\n`;
  const files = new Map<string, Buffer>([[`/${debName}`, deb], ['/Packages', Buffer.from(packages)]]);
  const server: Server = createServer((req, res) => {
    const body = files.get((req.url ?? '').replace(/\/\.\//g, '/')); // apt asks for /./Packages
    res.writeHead(body ? 200 : 404, { 'content-length': body?.length ?? 0 }).end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    sourcesLine: `deb [trusted=yes] http://127.0.0.1:${port}/ ./`,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

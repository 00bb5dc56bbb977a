// Where the compiled stage lives: next to the bundle (dist/), or in dist/
// when running from the TypeScript sources (tests).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function stagePath(): string {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'sandbox-stage'), join(here, '..', '..', 'dist', 'sandbox-stage')];
  cached = candidates.find((p) => existsSync(p)) ?? candidates[0];
  return cached;
}

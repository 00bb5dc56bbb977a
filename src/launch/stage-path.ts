// Where the compiled stage lives (built by scripts/build-stage.mjs).
import { packagePath } from '../package-root.js';

export function stagePath(): string {
  return packagePath('dist', 'sandbox-stage');
}

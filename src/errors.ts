// One error type for everything the sandbox itself gets wrong or is refused:
// a lower-case message that names the failing path, flag or value, and a
// separate hint that says how to fix it. The CLI prints both and exits 125.

export type SandboxErrorCode =
  | 'usage'      // bad command line
  | 'config'     // a profile or policy file is malformed or invalid
  | 'host'       // the host cannot provide what is asked (no userns, no newuidmap, ...)
  | 'setup'      // the stage failed while building the sandbox
  | 'internal';  // a bug

export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(
    readonly code: SandboxErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function isSandboxError(e: unknown): e is SandboxError {
  return e instanceof SandboxError;
}

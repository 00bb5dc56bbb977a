// Checks a parsed request body against the schema (the generated validator,
// first error only) and what a schema cannot say (exactly one of content and
// base64, no file twice or inside another, a built-in profile). A problem is
// one message and the JSON pointer (RFC 6901) of the value at fault.
import type { ErrorObject } from 'ajv';
import validate from './generated/validate-request.js';
import { RELATIVE_PATH_PATTERN, type ServeRequest } from './request-schema.js';

export interface RequestProblem {
  readonly error: string;
  /** JSON pointer of the value at fault ("" is the whole body). */
  readonly pointer: string;
}

export type Checked = { readonly ok: true; readonly request: ServeRequest } | { readonly ok: false; readonly problem: RequestProblem };

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** One ajv error as a message and the pointer of the value it is about (a missing or unknown field's own). */
export function describeError(e: ErrorObject): RequestProblem {
  const p = e.params as Record<string, unknown>;
  // an error about a property's name (propertyNames) points at that property
  if (e.propertyName !== undefined) return { pointer: `${e.instancePath}/${escape(e.propertyName)}`, error: `invalid name "${e.propertyName}"` };
  switch (e.keyword) {
    case 'required':
      return { pointer: `${e.instancePath}/${escape(String(p.missingProperty))}`, error: `missing field "${String(p.missingProperty)}"` };
    case 'additionalProperties':
      return { pointer: `${e.instancePath}/${escape(String(p.additionalProperty))}`, error: `unknown field "${String(p.additionalProperty)}"` };
    case 'enum':
      return { pointer: e.instancePath, error: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      if (p.pattern === RELATIVE_PATH_PATTERN) {
        return { pointer: e.instancePath, error: 'must be a path relative to the box: no leading "/", no "." or ".." or empty components, at most 32 deep' };
      }
      return { pointer: e.instancePath, error: e.message ?? 'is invalid' };
    default:
      return { pointer: e.instancePath, error: e.message ?? 'is invalid' };
  }
}

export function checkRequest(body: unknown, profiles: ReadonlySet<string>): Checked {
  if (!validate(body)) {
    const first = validate.errors?.[0];
    return { ok: false, problem: first ? describeError(first) : { pointer: '', error: 'invalid request' } };
  }
  const request = body as ServeRequest;
  const fail = (pointer: string, error: string): Checked => ({ ok: false, problem: { pointer, error } });
  if (request.profile !== undefined && !profiles.has(request.profile)) {
    return fail('/profile', `unknown profile "${request.profile}": one of ${[...profiles].sort().join(', ')}`);
  }
  const files = request.files ?? [];
  const placed = new Set<string>();
  const dirs = new Set<string>();
  for (const [i, f] of files.entries()) {
    if ((f.content === undefined) === (f.base64 === undefined)) return fail(`/files/${i}`, 'give exactly one of "content" and "base64"');
    if (placed.has(f.path) || dirs.has(f.path)) return fail(`/files/${i}/path`, `"${f.path}" is given twice, or is a directory of another file`);
    const parts = f.path.split('/');
    for (let n = 1; n < parts.length; n++) {
      const dir = parts.slice(0, n).join('/');
      if (placed.has(dir)) return fail(`/files/${i}/path`, `"${dir}" is a file given before`);
      dirs.add(dir);
    }
    placed.add(f.path);
  }
  return { ok: true, request };
}

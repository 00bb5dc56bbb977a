#!/usr/bin/env node
// `sandbox-oci`, the OCI runtime (runc's command line): a CommonJS bundle
// (dist/oci-cli.cjs, from src/oci-cli/main.ts) loaded through the V8 code
// cache as the `sandbox` CLI is (bin/code-cache.cjs); SANDBOX_CODE_CACHE=0 turns the cache off.
require('./code-cache.cjs').loadWithCache(require('node:path').join(__dirname, '../dist/oci-cli.cjs'), {
  disabled: process.env.SANDBOX_CODE_CACHE === '0',
});

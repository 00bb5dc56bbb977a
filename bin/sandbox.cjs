#!/usr/bin/env node
// The CLI is a CommonJS bundle (Node starts it faster than an ES module),
// compiled through a V8 code cache (bin/code-cache.cjs); SANDBOX_CODE_CACHE=0 turns the cache off.
require('./code-cache.cjs').loadWithCache(require('node:path').join(__dirname, '../dist/cli.cjs'), {
  disabled: process.env.SANDBOX_CODE_CACHE === '0',
});

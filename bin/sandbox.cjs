#!/usr/bin/env node
// The CLI is a CommonJS bundle: Node starts it faster than an ES module.
require('../dist/cli.cjs');

// Node.js under the strict policy (run with node -e): fs, a worker thread,
// a child process and crypto.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');

const file = path.join(os.tmpdir(), `node-check-${process.pid}.txt`);
fs.writeFileSync(file, 'abc');
const text = fs.readFileSync(file, 'utf8');
fs.unlinkSync(file);

execFileSync('/bin/true');
const digest = crypto.createHash('sha256').update(text).digest('hex').slice(0, 8);
const random = crypto.randomBytes(16).length;

const worker = new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
worker.once('message', (answer) => {
  console.log(`node: ok (worker ${answer}, sha256 ${digest}, ${random} random bytes)`);
});
worker.once('error', (e) => {
  console.error(e);
  process.exitCode = 1;
});

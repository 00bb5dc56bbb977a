// Writes src/stage/protocol.h from src/stage/protocol.ts (`npm run gen:protocol`).
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';

const out = await build({
  entryPoints: ['src/stage/render-protocol-header.ts'],
  bundle: true, platform: 'node', format: 'esm', write: false,
});
const mod = await import('data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64'));
writeFileSync('src/stage/protocol.h', mod.renderProtocolHeader());
console.log('wrote src/stage/protocol.h');

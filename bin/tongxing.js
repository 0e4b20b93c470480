#!/usr/bin/env node
// Runs the compiled CLI; `make` (or `npm run build`) produces dist/.
import '../dist/node/polyfill.js';
const { main } = await import('../dist/node/cli/main.js');
process.exitCode = await main(process.argv.slice(2));

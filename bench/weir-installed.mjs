#!/usr/bin/env node
// The `weir` command as the published package runs it, for timing in a clone of the repository:
// bin/weir.mjs runs the TypeScript sources through tsx whenever src/ is beside it, so this file
// takes bin/weir.mjs's other path: the compiled CLI in dist/ (`npm run build`) imported by Node
// alone, which registers module loader hooks for the job's own TypeScript when it imports the job
// (src/cli/job-loader.ts). A job's `import 'weir'` resolves through package.json's exports to
// dist/ as well, as in an installed package.
import { existsSync } from 'node:fs';
import module from 'node:module';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(compiled)) {
  console.error('bench/weir-installed.mjs: dist/cli/main.js is missing; build the package first (npm run build)');
  process.exit(2);
}
if (typeof module.enableCompileCache === 'function') (await import(new URL('../dist/runtime/worker/compile-cache.mjs', import.meta.url).href)).enableCompileCache();
if (process.argv[2] === 'run') (await import(new URL('../dist/cli/early-workers.js', import.meta.url).href)).startWorkersEarly(process.argv.slice(3));
const { main } = await import(compiled.href);
process.exitCode = await main(process.argv.slice(2));

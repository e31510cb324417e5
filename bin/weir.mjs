#!/usr/bin/env node
// The `weir` command.
//
// The published package runs its compiled JavaScript (dist/). The engine is imported first, by
// Node alone, and tsx is registered afterwards (its ES module and its CommonJS hooks, as
// `node --import tsx` does), only so that `weir run job.ts` can import TypeScript job files and
// whatever they import, in a project of either module type; a job's `import 'weir'` reaches the
// same dist/ modules the command runs.
//
// A clone of the repository (src/ beside bin/; the package leaves src/ out) runs the TypeScript
// sources through tsx instead, so that an edit takes effect without a build: the tests, the
// benchmarks and the examples run what is in src/ now, and imports of `weir` resolve to src/
// too (source-hooks.mjs).
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import { register as registerTsxCommonJs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(sources)) {
  register();
  registerTsxCommonJs();
  registerHooks(new URL('../src/runtime/worker/source-hooks.mjs', import.meta.url));
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
  register();
  registerTsxCommonJs();
}
process.exitCode = await main(process.argv.slice(2));

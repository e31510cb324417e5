#!/usr/bin/env node
// The `weir` command.
//
// The published package runs its compiled JavaScript (dist/), loaded by Node alone. Only
// `weir run`, when it imports the job in this process, registers module loader hooks for the
// job's TypeScript and whatever it imports, in a project of either module type
// (src/cli/job-loader.ts); a job's `import 'weir'` reaches the same dist/ modules the command
// runs. Other commands load no TypeScript loader at all.
//
// A clone of the repository (src/ beside bin/; the package leaves src/ out) runs the TypeScript
// sources through tsx instead, so that an edit takes effect without a build: the tests, the
// benchmarks and the examples run what is in src/ now, and imports of `weir` resolve to src/
// too (source-hooks.mjs).
//
// Where Node has an on-disk compile cache (Node 22 and later), weir's modules are compiled from
// it, in this thread and in every slot worker (src/runtime/worker/compile-cache.mjs).
import { existsSync } from 'node:fs';
import module, { register as registerHooks } from 'node:module';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const fromSources = existsSync(sources);
if (typeof module.enableCompileCache === 'function') {
  (await import(fromSources ? '../src/runtime/worker/compile-cache.mjs' : '../dist/runtime/worker/compile-cache.mjs')).enableCompileCache();
}
if (fromSources) {
  const [{ register }, { register: registerTsxCommonJs }] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  register();
  registerTsxCommonJs();
  registerHooks(new URL('../src/runtime/worker/source-hooks.mjs', import.meta.url));
  const { main } = await import(sources.href);
  process.exitCode = await main(process.argv.slice(2), { typeScriptLoaded: true });
} else {
  // `weir run` starts the job's slot workers first, so that they start up while the CLI loads.
  if (process.argv[2] === 'run') (await import('../dist/cli/early-workers.js')).startWorkersEarly(process.argv.slice(3));
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}

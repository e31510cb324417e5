#!/usr/bin/env node
// Runs an entry file through the tsx loader: `node-ts <file> [args...]`. Worker threads and
// child processes cannot take a .ts file as their entry, so weir's processes (a cluster's
// JobManager and TaskManager, the benchmarks) start through this file. The entry is a source
// file in a clone of the repository and a compiled one in dist/ in the published package; tsx is
// there for the job modules either may import. In a clone, imports of `weir` resolve to the
// sources as well (src/runtime/worker/source-hooks.mjs).
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

register();
const sourceHooks = new URL('../src/runtime/worker/source-hooks.mjs', import.meta.url);
if (existsSync(sourceHooks)) registerHooks(sourceHooks);
const [, , entry, ...rest] = process.argv;
if (!entry) {
  console.error('usage: node-ts <file> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(entry), ...rest];
await import(pathToFileURL(resolve(entry)).href);

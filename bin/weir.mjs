#!/usr/bin/env node
// The `weir` command. The engine is written in TypeScript and loaded through tsx, which
// also lets `weir run job.ts` import TypeScript job files.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// Runs a TypeScript entry file: registers the tsx loader, then imports the file.
// Worker threads and child processes cannot take a .ts file as their entry, so every
// TypeScript entry point of weir goes through a small JavaScript file like this one.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

register();
const [, , entry, ...rest] = process.argv;
if (!entry) {
  console.error('usage: node-ts <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(entry), ...rest];
await import(pathToFileURL(resolve(entry)).href);

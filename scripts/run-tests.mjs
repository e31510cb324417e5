// Runs every test file under test/ with Node's own test runner and the tsx loader.
// Node 20's --test does not expand globs or pick up .ts files, so the list is built here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = collect('test');
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));

// The static checks, each failing the run: the compiler, the linter, and the layer and clock
// rules (the layer test repeats the last two, so a filtered run that skips it still checks them).
// They run beside the tests rather than before them (the compiler alone takes 10 s or more, and
// most of the first test files wait on jobs rather than compute): the first check to fail stops
// the tests and fails the run with its output, as soon as it fails. A check's output is held
// until it ends, so that it does not break into the test runner's report.
const checks = [
  ['typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['lint', 'npx', ['biome', 'lint', '--diagnostic-level=error']],
  ['layers', process.execPath, ['scripts/check-layers.mjs', '--clock']],
];

/** Runs a command with its output held; resolves with its exit status and that output. */
function held(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (d) => chunks.push(d));
    child.stderr.on('data', (d) => chunks.push(d));
    child.on('error', (e) => chunks.push(Buffer.from(`${e.message}\n`)));
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 1 : 0), output: Buffer.concat(chunks).toString() }));
  });
}

const tests = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
const testsDone = new Promise((resolve) => tests.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));

const outputs = [];
const checksDone = Promise.all(
  checks.map(async ([name, command, args]) => {
    const r = await held(command, args);
    outputs.push(r.output);
    if (r.status !== 0) {
      tests.kill('SIGTERM');
      process.stderr.write(r.output);
      console.error(`${name} failed`);
      process.exit(r.status);
    }
  }),
);

const [status] = await Promise.all([testsDone, checksDone]);
process.stdout.write(outputs.join(''));
process.exit(status);

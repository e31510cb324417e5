// Runs every test file under test/ with Node's own test runner and the tsx loader.
// Node 20's --test does not expand globs or pick up .ts files, so the list is built here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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

// Static checks first, each failing the run: the compiler, the linter, and the layer and clock
// rules (the layer test repeats the last two, so a filtered run that skips it still checks them).
const checks = [
  ['typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['lint', 'npx', ['biome', 'lint', '--diagnostic-level=error']],
  ['layers', process.execPath, ['scripts/check-layers.mjs', '--clock']],
];
for (const [name, command, args] of checks) {
  const r = spawnSync(command, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${name} failed`);
    process.exit(r.status ?? 1);
  }
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);

// Builds what the published package runs: dist/, the TypeScript sources under src/ compiled to
// ES modules with declarations (tsconfig.build.json), with the engine's JavaScript sources
// (src/**/*.mjs and their .d.mts declarations) copied beside them, and the web UI (ui/, bundled
// by Vite: ui/build.mjs) under dist/ui, which the JobManager serves at /web/. Runs as `prepare`,
// so on `npm install` in a clone and before `npm pack`/`npm publish`.
//
// dist/ is rebuilt from scratch every time: sources move, and a file left from an older layout
// would be shipped and importable.
//
// In a source checkout it then prepares the development engine bundle that slot workers load
// when weir runs from its TypeScript sources (src/runtime/worker/engine-bundle.mjs), so that the
// first job after `npm install` does not build it. That step is an optimisation and never fails
// the build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');

function files(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function fail(message) {
  console.error(`weir build: ${message}`);
  process.exit(1);
}

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  fail('TypeScript is not installed; run `npm install` (with dev dependencies) first');
}

// Compile into a fresh directory and swap it in, so that an interrupted or failed build never
// leaves a half-written dist/ behind.
const staging = `${DIST}.${process.pid}.tmp`;
rmSync(staging, { recursive: true, force: true });
const t0 = performance.now();
const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', staging], { stdio: 'inherit', cwd: ROOT });
if (result.status !== 0) {
  rmSync(staging, { recursive: true, force: true });
  fail('tsc -p tsconfig.build.json failed (see above)');
}

for (const file of files(SRC)) {
  if (!/\.(?:mjs|d\.mts)$/.test(file)) continue;
  const target = join(staging, relative(SRC, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}

// tsc rewrites the extensions of import specifiers, not of paths built at run time. A source
// that names a sibling `.ts` file in a URL (to start a process or a worker on it) must choose the
// extension from its own import.meta.url, or the compiled package would point at a missing file.
const stale = [];
for (const file of files(staging)) {
  if (!file.endsWith('.js')) continue;
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/new URL\(\s*['"`]([^'"`]*\.ts)['"`]/g)) stale.push(`${relative(staging, file)}: new URL('${m[1]}', …)`);
}
if (stale.length > 0) {
  rmSync(staging, { recursive: true, force: true });
  fail(`compiled code refers to TypeScript sources that dist/ does not have:\n  ${stale.join('\n  ')}`);
}

// The web UI, into the same staging directory: a package without it would serve no UI.
try {
  const { buildUi } = await import('../ui/build.mjs');
  const t1 = performance.now();
  await buildUi({ outDir: join(staging, 'ui') });
  console.log(`weir: built the web UI (ui/) into dist/ui in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
} catch (e) {
  rmSync(staging, { recursive: true, force: true });
  fail(`the web UI did not build: ${e instanceof Error ? e.message : String(e)}`);
}

// Two renames, so that dist/ is missing only between them: processes of a clone that start
// meanwhile resolve `weir` through it (src/runtime/worker/source-hooks.mjs).
const previous = `${DIST}.${process.pid}.old`;
rmSync(previous, { recursive: true, force: true });
try {
  renameSync(DIST, previous);
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
renameSync(staging, DIST);
rmSync(previous, { recursive: true, force: true });
console.log(`weir: compiled src/ into dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// The development engine bundle (only where weir runs from its sources).
try {
  const { currentEngineBundle, openEngineBundle } = await import('../src/runtime/worker/engine-bundle.mjs');
  const ref = currentEngineBundle();
  if (ref !== undefined) {
    const bundle = await openEngineBundle(ref);
    console.log(`weir: development engine bundle ready in ${fileURLToPath(bundle.dir)}`);
  }
} catch (e) {
  console.warn(`weir: could not build the development engine bundle (${e instanceof Error ? e.message : String(e)}); workers build it when first needed`);
}

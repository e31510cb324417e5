// Builds what the published package runs: dist/, the TypeScript sources under src/ compiled to
// ES modules with declarations (tsconfig.build.json), with the engine's JavaScript sources
// (src/**/*.mjs and their .d.mts declarations) copied beside them, and the web UI (ui/, bundled
// by Vite: ui/build.mjs) under dist/ui, which the JobManager serves at /web/. Runs as `prepare`,
// so on `npm install` in a clone and before `npm pack`/`npm publish`.
//
// The JavaScript a process loads is bundled (bundleEngine below): each entry point (the public
// entries of package.json's exports, the CLI, the worker runtime, the process entries) is one
// file at the path tsc would give it, and what entries share lies in chunks under dist/chunks/.
// A process then loads a handful of files instead of hundreds of modules; module resolution and
// loading, not running the code, was most of the CLI's and every worker's start-up time. The
// declarations stay tsc's, one per source file.
//
// dist/ is rebuilt from scratch whenever it is built: sources move, and a file left from an
// older layout would be shipped and importable. It is not built again while it was built from
// exactly the inputs there are now: dist/.build-inputs holds a SHA-256 over every input file's
// path and content (src/, ui/ but its node_modules, this script, the tsconfig files,
// package.json and package-lock.json), written last. `npm pack` right after `npm install` then
// costs no second build. `node scripts/build.mjs --force` builds regardless.
//
// In a source checkout it then prepares the development engine bundle that slot workers load
// when weir runs from its TypeScript sources (src/runtime/worker/engine-bundle.mjs), so that the
// first job after `npm install` does not build it. That step is an optimisation and never fails
// the build.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
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

/**
 * The modules a process loads by path rather than through an import of another module: the
 * package's exports, the CLI and its early start of slot workers (bin/weir.mjs), the worker runtime (worker-bootstrap.mjs) and the
 * processes a cluster starts (entrypoints/process-entries.ts).
 */
const ENTRIES = [
  'index.ts',
  'testing/index.ts',
  'nexmark/index.ts',
  'connectors/file/index.ts',
  'connectors/pg/index.ts',
  'connectors/nats/index.ts',
  'cli/main.ts',
  'cli/early-workers.ts',
  'runtime/worker/worker-main.ts',
  'entrypoints/jobmanager-main.ts',
  'entrypoints/taskmanager-main.ts',
];

/** Stands for `import.meta.url` of the source module it names until the output's paths are known. */
const META_URL = '__weirModuleUrlOf';
const META_VAR = '__weirModuleUrl';
/**
 * The development engine bundle (engine-bundle.mjs) answers that there is none wherever it is
 * not loaded from src/, so the bundled modules import its stand-in instead (no-engine-bundle.mjs),
 * which loads nothing: `weir run` starts its slot workers that much sooner.
 */
const ENGINE_BUNDLE = join(SRC, 'runtime', 'worker', 'engine-bundle.mjs');
const NO_ENGINE_BUNDLE = join(SRC, 'runtime', 'worker', 'no-engine-bundle.mjs');
/** Prefix of an import of one of weir's JavaScript sources (the .mjs files, copied as they are) until the output's paths are known. */
const MJS = '__weir_mjs__/';

/**
 * Replaces tsc's JavaScript with bundles of the entries (ENTRIES) and the chunks they share,
 * written where tsc wrote the entries; the other JavaScript files tsc emitted are removed, so
 * that no second instance of an engine module can be loaded from dist/. Packages and Node's
 * builtins stay imports; weir's JavaScript sources (*.mjs, copied beside the output) are
 * imported from where they lie. A source module's `import.meta.url` keeps naming the file tsc
 * would have compiled it to, so paths computed from it (the package root, package.json, the web
 * UI, the worker entry) hold as before.
 */
async function bundleEngine(out) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES.map((e) => ({ in: join(SRC, e), out: e.replace(/\.ts$/, '') })),
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    // Class and function names are behaviour (error names, messages); bundling renames colliding ones otherwise.
    keepNames: true,
    define: { 'import.meta.url': META_VAR },
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'weir-dist-paths',
        setup(b) {
          b.onResolve({ filter: /\.mjs$/ }, (args) => {
            if (!args.path.startsWith('.')) return undefined;
            let path = join(args.resolveDir, args.path);
            if (!path.startsWith(SRC + sep)) return undefined;
            if (path === ENGINE_BUNDLE) path = NO_ENGINE_BUNDLE;
            return { path: MJS + relative(SRC, path).split(sep).join('/'), external: true };
          });
          // Each module's import.meta.url becomes a variable of its own, set to the placeholder
          // that names it (esbuild's define replaces the expression, not text in strings).
          b.onLoad({ filter: /\.ts$/ }, (args) => {
            if (!args.path.startsWith(SRC + sep)) return undefined;
            const text = readFileSync(args.path, 'utf8');
            if (!text.includes('import.meta')) return undefined;
            const compiled = relative(SRC, args.path).split(sep).join('/').replace(/\.ts$/, '.js');
            return { contents: `const ${META_VAR} = ${META_URL}(${JSON.stringify(compiled)});\n${text}`, loader: 'ts' };
          });
        },
      },
    ],
  });
  const written = new Set();
  for (const file of result.outputFiles) {
    const dir = dirname(file.path);
    const fromHere = (target) => {
      const rel = relative(dir, join(out, target)).split(sep).join('/');
      return rel.startsWith('.') ? rel : `./${rel}`;
    };
    let text = file.text;
    text = text.replace(new RegExp(`${META_URL}\\("([^"]+)"\\)`, 'g'), (_, target) => `new URL(${JSON.stringify(fromHere(target))}, import.meta.url).href`);
    text = text.replace(new RegExp(`(["'])${MJS}([^"']+)\\1`, 'g'), (_, q, target) => `${q}${fromHere(target)}${q}`);
    if (text.includes(`${META_URL}(`) || text.includes(MJS)) fail(`${relative(out, file.path)}: a module path was left unresolved in the bundle`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file.path, text);
    written.add(file.path);
  }
  for (const file of files(out)) {
    if (file.endsWith('.js') && !written.has(file)) rmSync(file);
  }
}

/** The SHA-256 of everything the build reads, file by file in a stable order. */
function inputsHash() {
  const hash = createHash('sha256');
  const inputs = [
    ...files(SRC),
    ...files(join(ROOT, 'ui')).filter((f) => !relative(ROOT, f).split(sep).includes('node_modules')),
    ...['scripts/build.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'].map((f) => join(ROOT, f)),
  ].sort();
  for (const file of inputs) {
    hash.update(relative(ROOT, file).split(sep).join('/')).update('\0');
    try {
      hash.update(readFileSync(file));
    } catch {
      hash.update('(missing)');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

const STAMP = join(DIST, '.build-inputs');
const inputs = inputsHash();
let upToDate = false;
try {
  upToDate = !process.argv.includes('--force') && readFileSync(STAMP, 'utf8').trim() === inputs;
} catch {
  // no stamp: build
}
if (upToDate) {
  console.log('weir: dist/ is up to date with its sources (node scripts/build.mjs --force builds anyway)');
} else {
  await build();
}

async function build() {
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

  await bundleEngine(staging);

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
  // Last: a build interrupted before this point leaves no stamp, and the next one builds again.
  writeFileSync(STAMP, `${inputs}\n`);
  console.log(`weir: compiled src/ into dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

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

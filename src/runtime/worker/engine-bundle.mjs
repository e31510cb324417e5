/**
 * The engine as slot workers load it while weir runs from its TypeScript sources (a clone of the
 * repository: tests, benchmarks, examples): one precompiled ES module instead of the sources, so
 * that a worker starts without transpiling and resolving each source file through a module
 * loader hook. The published package runs the compiled JavaScript in dist/ (scripts/build.mjs),
 * which workers import directly; there, and wherever this file is not loaded from src/, there is
 * no bundle (currentEngineBundle returns undefined).
 *
 * A bundle is built from `src/` of this package into a directory named after a hash of
 * everything it is built from (every file under `src/`, package.json, tsconfig.json, the
 * package.json of each dependency, the package's location), so a source edit always leads to a
 * new bundle and a bundle is never served for sources other than its own. It lives under
 * `node_modules/.cache/weir/`, or under this user's directory in the OS temporary directory
 * where that is not writable.
 *
 * Module identity: the job module imports weir by package name or by a path to `src/`, and it
 * must reach the very module instances that run it (shared registries, instanceof checks). The
 * bundle therefore exports every bundled source module's exports under mangled names, and each
 * such source module gets a facade file re-exporting them under its own names; a worker's module
 * loader hooks (loader-hooks.mjs) resolve the source module's URL to its facade. A source module
 * that is not in the bundle (reachable from neither the worker runtime nor the public API) is
 * loaded from its source as before, and its own imports of bundled modules reach the facades.
 *
 * This file is plain JavaScript: worker threads use it before any TypeScript loader exists.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Changes whenever the layout of a bundle directory or the way it is built changes. */
const FORMAT = 'weir-engine-bundle/1';

/** The package root (the directory of weir's package.json), symlinks resolved like Node's resolver does. */
const ROOT = realpathSync(fileURLToPath(new URL('../../../', import.meta.url)));
const SRC = join(ROOT, 'src');
/** Whether this is the source tree's copy of this file, not the one dist/ ships. */
const FROM_SOURCES = fileURLToPath(import.meta.url).startsWith(SRC + sep);

/**
 * The modules the bundle is built around: the worker runtime and the public API (`weir`,
 * `weir/testing`). Everything they import from `src/` is bundled with them.
 */
const ROOTS = ['src/runtime/worker/worker-main.ts', 'src/index.ts', 'src/testing/index.ts'];

/** TypeScript source modules; the JavaScript ones (`.mjs`) are loaded as they are, never bundled. */
const TS_MODULE = /\.m?ts$/;
const MANIFEST = 'manifest.json';

/** Every file under `dir`, sorted, as absolute paths. */
function listFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/**
 * The package.json of each of weir's dependencies, as Node would find it from the sources: the
 * bundle imports them by the URL their entry resolved to when it was built.
 */
function dependencyPackageJsons() {
  const deps = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies ?? {});
  const out = [];
  for (const name of deps.sort()) {
    for (let dir = ROOT; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', name, 'package.json');
      if (existsSync(candidate)) {
        out.push(candidate);
        break;
      }
      if (dirname(dir) === dir) throw new Error(`weir's dependency ${name} is not installed`);
    }
  }
  return out;
}

/** The files a bundle is built from. */
function inputs() {
  return [...listFiles(SRC), join(ROOT, 'package.json'), join(ROOT, 'tsconfig.json'), ...dependencyPackageJsons()];
}

/** Hash of the contents of `files` (missing files count as absent, not as an error). */
function contentKey(files) {
  const h = createHash('sha256').update(FORMAT).update('\0').update(ROOT).update('\0');
  for (const f of files) {
    h.update(f).update('\0');
    try {
      h.update(readFileSync(f));
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
      h.update('\0absent');
    }
    h.update('\0');
  }
  return h.digest('hex').slice(0, 24);
}

/** Identifies what each file is now without reading it; any write changes its ctime. */
function statSignature(files) {
  let s = '';
  for (const f of files) {
    try {
      const st = statSync(f, { bigint: true });
      s += `${f}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}\n`;
    } catch {
      s += `${f}\0absent\n`;
    }
  }
  return s;
}

function cacheDirs(key) {
  const name = `engine-${key}`;
  const tmp = privateTempDir();
  return [join(ROOT, 'node_modules', '.cache', 'weir', name), ...(tmp ? [join(tmp, name)] : [])];
}

/**
 * This user's directory under the OS temporary directory, or undefined where it cannot be made
 * safe: workers run code from it, so it must be this user's own and writable by nobody else.
 */
function privateTempDir() {
  if (typeof process.getuid !== 'function') return undefined;
  const dir = join(tmpdir(), `weir-${process.getuid()}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (e.code !== 'EEXIST') return undefined;
  }
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

let memo;

/**
 * The bundle for the engine sources as they are on disk now, or undefined when workers are to
 * load the TypeScript sources (WEIR_ENGINE_BUNDLE=0, or esbuild is not installed). Reads only
 * file metadata while the sources are unchanged since the last call in this thread.
 */
export function currentEngineBundle() {
  if (!FROM_SOURCES || process.env.WEIR_ENGINE_BUNDLE === '0') return undefined;
  let files;
  try {
    files = inputs();
  } catch {
    return undefined;
  }
  const signature = statSignature(files);
  if (memo?.signature !== signature) memo = { signature, key: contentKey(files) };
  return { key: memo.key, dirs: cacheDirs(memo.key) };
}

function readManifest(dir) {
  let text;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw e;
  }
  const m = JSON.parse(text);
  const base = pathToFileURL(dir + sep).href;
  const url = (rel) => new URL(rel, base).href;
  return {
    dir: base,
    workerMain: url(m.workerMain),
    // Each facade under its source's URL and under the URL of the file dist/ has compiled from
    // it: package.json's exports name dist/, and a job importing `weir` must reach the bundle too.
    modules: Object.fromEntries(
      Object.entries(m.modules).flatMap(([source, facade]) => [
        [pathToFileURL(join(ROOT, source)).href, url(facade)],
        [pathToFileURL(join(ROOT, 'dist', source.slice('src/'.length).replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs'))).href, url(facade)],
      ]),
    ),
    externals: m.externals,
  };
}

/**
 * Opens the bundle `ref` names, building it first if no cache directory has it. Returns the
 * URL of its directory (ending in `/`), of the worker runtime's facade, the facade of each
 * bundled source module by the source's URL, and the URLs the bundle imports from outside
 * itself (packages, weir's JavaScript sources).
 */
export async function openEngineBundle(ref) {
  for (const dir of ref.dirs) {
    const m = readManifest(dir);
    if (m) return m;
  }
  let lastError;
  for (const dir of ref.dirs) {
    try {
      const lock = await takeBuildLock(dir);
      if (lock === undefined) return readManifest(dir);
      // The lock stays fresh while this thread builds; if the thread dies, it goes stale.
      const beat = setInterval(() => {
        try {
          const now = new Date();
          utimesSync(lock, now, now);
        } catch {
          // Taken over, or removed: the build's own rename decides what is published.
        }
      }, LOCK_BEAT_MS);
      try {
        await buildInto(dir, ref.key);
      } finally {
        clearInterval(beat);
        rmSync(lock, { recursive: true, force: true });
      }
      return readManifest(dir);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

/** How often a builder refreshes its lock, and how old a lock is when its builder is presumed gone. */
const LOCK_BEAT_MS = 500;
const LOCK_STALE_MS = 5_000;

/**
 * Workers that start together need one build, not one each: the first to create
 * `<dir>.building` builds (this returns the lock's path), the others wait for its manifest
 * (this returns undefined once it is there) and take over when the lock goes stale.
 */
async function takeBuildLock(dir) {
  const lock = `${dir}.building`;
  mkdirSync(dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      return lock;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    for (;;) {
      if (readManifest(dir)) return undefined;
      let age;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        break;
      }
      if (age > LOCK_STALE_MS) {
        rmSync(lock, { recursive: true, force: true });
        break;
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  }
}

/**
 * Builds the bundle into `dir`: into a fresh sibling first, renamed into place when complete,
 * so that readers see a whole bundle or none, and two builders of one key both succeed. Refuses
 * to publish under `key` unless the sources hashed to `key` before and after the build.
 */
async function buildInto(dir, key) {
  if (contentKey(inputs()) !== key) throw new Error('the engine sources changed since the bundle was requested');
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = `${dir}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  mkdirSync(tmp);
  try {
    const manifest = await build(tmp);
    writeFileSync(join(tmp, MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
    if (contentKey(inputs()) !== key) throw new Error('the engine sources changed while the bundle was built');
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another builder published the same key first; its bundle is as good as this one.
      if (readManifest(dir) === undefined) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(parent, dir);
}

/** Removes bundles of older sources: all but the few newest, once they are an hour old. */
function prune(parent, keep) {
  try {
    const old = readdirSync(parent)
      .filter((n) => n.startsWith('engine-'))
      .map((n) => join(parent, n))
      .filter((p) => p !== keep)
      .map((p) => ({ p, t: statSync(p).mtimeMs }))
      .sort((a, b) => b.t - a.t)
      .slice(3)
      .filter((x) => x.t < Date.now() - 3600_000);
    for (const { p } of old) rmSync(p, { recursive: true, force: true });
  } catch {
    // Pruning is housekeeping; a bundle in use elsewhere or a vanished entry is no failure.
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Writes engine.mjs (+ .map) and the facades into `out`; returns the manifest. */
async function build(out) {
  const esbuild = await import('esbuild');
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
  };

  // Which source modules the roots reach (only those are compiled, so a broken file elsewhere
  // under src/ does not matter here) ...
  const reach = await esbuild.build({ ...common, entryPoints: ROOTS, outdir: join(out, 'reach'), packages: 'external', plugins: [javaScriptSourcesByUrl(new Set())] });
  const reached = [];
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path) || !path.startsWith('src/')) return;
    seen.add(path);
    for (const i of reach.metafile.inputs[path]?.imports ?? []) if (!i.external && i.kind === 'import-statement') visit(i.path);
    reached.push(path);
  };
  for (const r of ROOTS) visit(r);

  // ... and what each of them exports (types erased, `export *` resolved): every reached module
  // an entry point of its own.
  const analysis = await esbuild.build({
    ...common,
    entryPoints: reached,
    splitting: true,
    outdir: join(out, 'analysis'),
    packages: 'external',
    plugins: [javaScriptSourcesByUrl(new Set())],
  });
  const exportsOf = new Map();
  for (const o of Object.values(analysis.metafile.outputs)) if (o.entryPoint) exportsOf.set(o.entryPoint, o.exports);

  // The bundle's entry re-exports every reached module's exports under names unique to it,
  // roots first so that modules evaluate in the order a worker has always imported them.
  const ordered = [...ROOTS, ...reached.filter((p) => !ROOTS.includes(p))];
  const modules = {};
  let entry = '';
  ordered.forEach((path, i) => {
    const names = exportsOf.get(path);
    if (!names) throw new Error(`the engine bundle analysis lost ${path}`);
    const bad = names.find((n) => !IDENTIFIER.test(n));
    if (bad !== undefined) throw new Error(`${path} exports ${JSON.stringify(bad)}, which the engine bundle cannot re-export`);
    const mangled = (n) => `m${i}$${n}`;
    if (names.length > 0) entry += `export { ${names.map((n) => `${n} as ${mangled(n)}`).join(', ')} } from ${JSON.stringify('./' + path)};\n`;
    else entry += `import ${JSON.stringify('./' + path)};\n`;
    const facade = `${path}.mjs`;
    const depth = facade.split('/').length - 1;
    const engine = `${'../'.repeat(depth)}engine.mjs`;
    const body =
      names.length > 0
        ? `export { ${names.map((n) => `${mangled(n)} as ${n}`).join(', ')} } from ${JSON.stringify(engine)};\n`
        : `import ${JSON.stringify(engine)};\n`;
    mkdirSync(dirname(join(out, facade)), { recursive: true });
    writeFileSync(join(out, facade), `// ${path} as bundled in ${engine}\n${body}`);
    modules[path] = facade;
  });

  const externals = new Set();
  await esbuild.build({
    absWorkingDir: ROOT,
    stdin: { contents: entry, resolveDir: ROOT, sourcefile: 'weir-engine-entry.js', loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile: join(out, 'engine.mjs'),
    sourcemap: 'linked',
    sourcesContent: false,
    // Less text for the worker to parse, and for Node to scan when it caches the source map.
    minifyWhitespace: true,
    // Class and function names are part of behaviour (error names, messages); scope hoisting
    // would otherwise rename colliding ones.
    keepNames: true,
    plugins: [javaScriptSourcesByUrl(externals), packagesByUrl(externals), originalImportMeta],
    logLevel: 'silent',
  });
  // The map names the sources by absolute URL: Node resolves relative ones against the map's
  // real path, which differs from the path the bundle was written under when a directory on the
  // way is a symbolic link.
  const mapFile = join(out, 'engine.mjs.map');
  const map = JSON.parse(readFileSync(mapFile, 'utf8'));
  map.sources = map.sources.map((source) => new URL(source, pathToFileURL(join(out, 'engine.mjs'))).href);
  writeFileSync(mapFile, JSON.stringify(map));
  return { format: FORMAT, workerMain: modules[ROOTS[0]], modules, externals: [...externals].sort() };
}

/**
 * Packages stay imports, but by the URL they resolve to from the sources, so that the bundle
 * imports the same files from wherever its cache directory is.
 */
const packagesByUrl = (externals) => ({
  name: 'weir-packages-by-url',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      const url = args.path.startsWith('file:') ? args.path : import.meta.resolve(args.path);
      externals.add(url);
      return { path: url, external: true };
    });
  },
});

/**
 * weir's JavaScript sources (this file among them) are imported by their URL: they need no
 * compiling, and a worker has loaded some of them before the bundle.
 */
const javaScriptSourcesByUrl = (externals) => ({
  name: 'weir-javascript-sources-by-url',
  setup(b) {
    b.onResolve({ filter: /\.mjs$/ }, (args) => {
      if (!args.path.startsWith('.')) return undefined;
      const path = join(args.resolveDir, args.path);
      if (!path.startsWith(SRC + sep)) return undefined;
      const url = pathToFileURL(path).href;
      externals.add(url);
      return { path: url, external: true };
    });
  },
});

/** import.meta of a bundled source module keeps describing that module, not the bundle. */
const originalImportMeta = {
  name: 'weir-original-import-meta',
  setup(b) {
    b.onLoad({ filter: TS_MODULE }, async (args) => {
      if (!args.path.startsWith(SRC + sep)) return undefined;
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta')) return undefined;
      const contents = text
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path));
      return { contents, loader: 'ts' };
    });
  },
};

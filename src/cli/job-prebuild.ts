/**
 * A job module prebuilt to plain JavaScript, so that `weir run` with the compiled engine (the
 * published package) imports the job without module loader hooks in any thread.
 *
 * Why: on Node 20, `module.register()` starts a hooks thread and blocks until it is up, in the
 * launcher and again in every slot worker; for a small job that was a third of the time from
 * command to exit (docs/performance.md, "Trivial job"). A job whose own modules are bundled into
 * one ES module needs no hooks: what is left are imports of packages and of Node's builtins,
 * which Node resolves from the bundle's place as it would from the job's.
 *
 * What is bundled: the job and every module it reaches by a relative or absolute path, and
 * packages whose entry resolves to TypeScript (a workspace package linked into node_modules).
 * Every other package stays an import. `import.meta.url`, `.dirname` and `.filename` of each
 * bundled module keep naming the module's own file, so paths computed from them still hold.
 *
 * Where: `node_modules/.cache/weir/jobs/` of the nearest directory above the job that has a
 * node_modules directory, so that package imports resolve from the same node_modules as the job's
 * (Node looks in that node_modules when it resolves from a file inside it). The bundle is kept
 * with a record of every file it was built from (size and modification time), the tsconfig and
 * package.json files that decide how they are compiled, and the versions of Node, esbuild and of
 * this way of bundling; a later run that finds them unchanged imports the bundle without loading
 * esbuild. A file changed while the bundle was being built leaves no record, so the next run
 * builds again.
 *
 * Where the job cannot be bundled this way, `prebuiltJob` answers undefined and the caller loads
 * the job as before, through the loader hooks (job-loader.ts): a job that Node loads as
 * CommonJS, a job with no node_modules above it, a cache directory that cannot be written, or any
 * bundling error (the hooks' load of the job then reports the error as it always did).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { PREBUILT_MARK } from '../runtime/worker/prebuilt-job.mjs';
import { nearestPackage } from './job-format.ts';

/** The version of how jobs are bundled here: a change that alters bundles increments it. */
const FORMAT = 1;

/** Files whose presence or content decide how a directory's sources compile. */
const CONFIG_FILES = ['tsconfig.json', 'jsconfig.json', 'package.json'];

/** A file the bundle depends on: absolute path, size and mtime (ms); -1, -1 for an absent one. */
type Stamp = [path: string, size: number, mtimeMs: number];

interface Manifest {
  readonly key: string;
  readonly stamps: readonly Stamp[];
}

function stamp(path: string): Stamp {
  try {
    const s = statSync(path);
    return [path, s.size, s.mtimeMs];
  } catch {
    return [path, -1, -1];
  }
}

function unchanged(stamps: readonly Stamp[]): boolean {
  for (const [path, size, mtime] of stamps) {
    const [, s, m] = stamp(path);
    if (s !== size || m !== mtime) return false;
  }
  return true;
}

/** The nearest directory at or above `dir` that holds a node_modules directory. */
function projectRoot(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if (statSync(join(d, 'node_modules')).isDirectory()) return d;
    } catch {
      // not here; look further up
    }
    if (dirname(d) === d) return undefined;
  }
}

/** Whether Node loads `path` as CommonJS (these jobs keep the hooks, which handle that). */
function commonJs(path: string): boolean {
  const ext = extname(path);
  if (ext === '.cts' || ext === '.cjs') return true;
  if (ext === '.mts' || ext === '.mjs') return false;
  return !nearestPackage(path).module;
}

function readManifest(path: string): Manifest | undefined {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    return typeof m.key === 'string' && Array.isArray(m.stamps) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Loaders for the source files the bundle may contain, by extension. */
const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' } as const;

/**
 * Gives each bundled module's `import.meta` file properties its own file's values (in a bundle
 * they would name the bundle), and bundles packages that resolve to TypeScript.
 */
function jobPlugin(): Plugin {
  return {
    name: 'weir-prebuilt-job',
    setup(b) {
      b.onResolve({ filter: /^[^./]|^\.[^./]|^\.\.[^/]/ }, async (args) => {
        if (args.pluginData === PREBUILT_MARK || args.path.startsWith('node:')) return undefined;
        const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: PREBUILT_MARK });
        if (r.errors.length > 0 || r.external || r.path === '') return { path: args.path, external: true };
        return /\.[cm]?tsx?$/.test(r.path) ? { path: r.path } : { path: args.path, external: true };
      });
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
        const loader = LOADERS[extname(args.path) as keyof typeof LOADERS];
        if (loader === undefined) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta')) return { contents: source, loader };
        const url = pathToFileURL(args.path).href;
        const contents = source
          .replace(/\bimport\.meta\.url\b/g, JSON.stringify(url))
          .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path))
          .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)));
        return { contents, loader };
      });
    },
  };
}

/**
 * The URL of the job at `jobPath` prebuilt to one ES module (marked with PREBUILT_MARK), built
 * now or found up to date; undefined where the job must be loaded through the hooks instead.
 */
export async function prebuiltJob(jobPath: string): Promise<string | undefined> {
  const path = resolve(jobPath);
  if (commonJs(path)) return undefined;
  const root = projectRoot(dirname(path));
  if (root === undefined) return undefined;
  const dir = join(root, 'node_modules', '.cache', 'weir', 'jobs', createHash('sha256').update(path).digest('hex').slice(0, 24));
  const out = join(dir, 'job.mjs');
  const manifestPath = join(dir, 'manifest.json');
  const key = `${FORMAT} ${process.versions.node}`;
  const url = (): string => `${pathToFileURL(out).href}?${PREBUILT_MARK}`;

  const found = readManifest(manifestPath);
  if (found !== undefined && found.key.startsWith(`${key} `) && unchanged(found.stamps)) return url();

  const started = Date.now();
  try {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [path],
      bundle: true,
      write: false,
      outfile: out,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node.split('.')[0]}`,
      plugins: [jobPlugin()],
      // Bundled CommonJS modules may call require() for builtins; an ES module has none.
      banner: { js: "import { createRequire as __weirCreateRequire } from 'node:module'; const require = __weirCreateRequire(import.meta.url);" },
      sourcemap: 'inline',
      sourcesContent: false,
      metafile: true,
      logLevel: 'silent',
    });
    const text = result.outputFiles[0]?.text;
    if (text === undefined) return undefined;
    const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(process.cwd(), p));
    const stamps: Stamp[] = [];
    const dirs = new Set<string>();
    for (const input of inputs) {
      stamps.push(stamp(input));
      for (let d = dirname(input); !dirs.has(d); d = dirname(d)) {
        dirs.add(d);
        for (const name of CONFIG_FILES) stamps.push(stamp(join(d, name)));
        if (dirname(d) === d) break;
      }
    }
    // A file changed during the build: its stamp may not match what was bundled.
    const fresh = stamps.every(([, size, mtime]) => size === -1 || mtime < started - 1);
    mkdirSync(dir, { recursive: true });
    // Written under temporary names and renamed: a concurrent run reads the old pair or the new.
    const tmp = `.${process.pid}-${Date.now()}`;
    writeFileSync(out + tmp, text);
    renameSync(out + tmp, out);
    if (fresh) {
      writeFileSync(manifestPath + tmp, JSON.stringify({ key: `${key} ${esbuild.version}`, stamps } satisfies Manifest));
      renameSync(manifestPath + tmp, manifestPath);
    } else rmSync(manifestPath, { force: true });
    return url();
  } catch {
    rmSync(manifestPath, { force: true });
    return undefined;
  }
}

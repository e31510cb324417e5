/**
 * Turns a job file into one self-contained ES module for a cluster: the client bundles the job
 * and everything it imports except weir itself and Node's builtins, so the JobManager and the
 * TaskManagers need nothing from the client's disk. `weir` and `weir/testing` stay imports,
 * resolved against the cluster's own weir, so the job talks to the same engine that runs it.
 */
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildResult, type Plugin } from 'esbuild';

/** A job module as it travels to a cluster. */
export interface JobModule {
  /** File name the module is stored under (`<job file name>.mjs`). */
  readonly fileName: string;
  readonly source: string;
}

const WEIR_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A job that imports weir's sources by path would carry a second copy of the engine; it must
 * import the package instead.
 */
const refuseEngineSources: Plugin = {
  name: 'weir-refuse-engine-sources',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (target === WEIR_SRC || target.startsWith(WEIR_SRC + sep)) {
        return {
          errors: [{ text: `${relative(process.cwd(), args.importer)} imports weir's sources by path (${args.path}); import from 'weir' or 'weir/testing' instead` }],
        };
      }
      return undefined;
    });
  },
};

export async function bundleJob(jobPath: string): Promise<JobModule> {
  const entry = resolve(jobPath);
  let result: BuildResult<{ write: false }>;
  try {
    result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: ['weir', 'weir/*'],
      plugins: [refuseEngineSources],
      // Bundled CommonJS dependencies may call require() for builtins; an ES module has none.
      banner: { js: "import { createRequire as __weirCreateRequire } from 'node:module'; const require = __weirCreateRequire(import.meta.url);" },
      sourcemap: 'inline',
      sourcesContent: false,
      logLevel: 'silent',
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors;
    if (errors && errors.length > 0) {
      const lines = errors.map((x) => (x.location ? `${x.location.file}:${x.location.line}:${x.location.column}: ${x.text}` : x.text));
      throw new Error(`cannot bundle ${jobPath}:\n  ${lines.join('\n  ')}`);
    }
    throw e;
  }
  const out = result.outputFiles[0];
  if (!out) throw new Error(`cannot bundle ${jobPath}: the bundler produced no output`);
  const base = entry.slice(entry.lastIndexOf(sep) + 1).replace(/\.[cm]?[jt]s$/, '');
  return { fileName: `${base}.mjs`, source: out.text };
}

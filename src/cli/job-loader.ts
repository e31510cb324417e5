/**
 * How `weir run` loads the job module in this process when weir runs compiled (the published
 * package, dist/): with the module loader hooks its slot workers use (runtime/worker/loader-hooks.mjs)
 * instead of tsx's own. The engine, already loaded, and whatever it imports later are Node's to
 * load; the job and everything it brings are resolved and loaded as tsx does it, and what tsx
 * made of each of its modules is kept on disk and shared with the workers, so that a job run
 * before loads without tsx at all (loading tsx costs more than the rest of the CLI).
 *
 * tsx's CommonJS hooks are registered only for a job that Node loads as CommonJS TypeScript
 * (`.cts`, or `.ts`/`.tsx` in a package that is not "type": "module"), as a worker does.
 *
 * Weir running from its TypeScript sources (a clone of the repository) has tsx registered for
 * the whole process before the CLI is loaded; the hooks are not registered twice.
 */
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { nearestPackage } from './job-format.ts';

let registered = false;

/** Whether tsx is preloaded into this process (`node --import tsx …`); it then loads the job. */
function tsxPreloaded(): boolean {
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(?:import|loader|experimental-loader)(?:=(.*))?$/.exec(argv[i]!);
    if (m && /^tsx(?:\/|$)|[\\/]node_modules[\\/]tsx[\\/]/.test(m[1] ?? argv[i + 1] ?? '')) return true;
  }
  return false;
}

/**
 * Whether this process loads jobs with weir's own loader (the compiled engine, no TypeScript
 * loader over the whole process): only then may a job be prebuilt (job-prebuild.ts) instead.
 */
export function ownLoader(typeScriptLoaded: boolean): boolean {
  return !typeScriptLoaded && !tsxPreloaded();
}

/** Whether Node loads the module at `url` as CommonJS TypeScript. */
function commonJsTypeScript(url: string): boolean {
  if (!url.startsWith('file:')) return false;
  const path = fileURLToPath(url);
  if (path.endsWith('.cts')) return true;
  return /\.tsx?$/.test(path) && !nearestPackage(path).module;
}

/**
 * Makes this process able to import the job module `jobModule` (a file URL) and what it
 * imports. `typeScriptLoaded`: a TypeScript loader covers the whole process already.
 */
export async function registerJobLoader(jobModule: string, typeScriptLoaded: boolean): Promise<void> {
  if (registered || !ownLoader(typeScriptLoaded)) return;
  registered = true;
  process.setSourceMapsEnabled(true);
  register(new URL('../runtime/worker/loader-hooks.mjs', import.meta.url), {
    data: { engineDir: new URL('../', import.meta.url).href, facades: {}, externals: [], jobModule, outerTsx: false },
  });
  if (commonJsTypeScript(jobModule)) {
    const { register: registerTsxCommonJs } = await import('tsx/cjs/api');
    registerTsxCommonJs();
  }
}

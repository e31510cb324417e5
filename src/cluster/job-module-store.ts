/**
 * Where a cluster process keeps the job modules it received. Each module gets a directory of
 * its own with `node_modules/weir` linking to this process's weir, so the module's bare
 * `import 'weir'` reaches the engine that runs it, wherever the directory is, and a
 * `package.json` of type module, without which a .ts or .js module would load as CommonJS (where
 * a job's top-level `await env.execute()` is a syntax error).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The root of this weir package (the directory of its package.json). */
export const WEIR_PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Writes `source` as `<dir>/<fileName>` with weir resolvable beside it and returns the module's
 * file URL. `fileName` must be a plain file name.
 */
export function storeJobModule(dir: string, fileName: string, source: string): string {
  if (!/^[\w.-]+\.(mjs|js|mts|ts)$/.test(fileName) || fileName.startsWith('.')) {
    throw new Error(`job module file name ${JSON.stringify(fileName)} must be a plain name ending in .mjs, .js, .mts or .ts`);
  }
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n');
  try {
    symlinkSync(WEIR_PACKAGE_ROOT, join(dir, 'node_modules', 'weir'), 'dir');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const path = join(dir, fileName);
  writeFileSync(path, source);
  return pathToFileURL(path).href;
}

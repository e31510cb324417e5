/**
 * Module resolve hook for weir running from its TypeScript sources (a clone of the repository;
 * bin/weir.mjs and bin/node-ts.mjs register it there, after tsx). package.json's exports name the
 * compiled files in dist/, which a clone has only as of its last build; this hook resolves every
 * import that lands in this package's dist/ (`weir`, `weir/testing`, from any importer, whatever
 * tsconfig applies) to the source file it was compiled from, so that a job and the engine that
 * runs it share one instance of every module: the sources'. Worker threads get the same mapping
 * from loader-hooks.mjs (via the bundle's manifest).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = new URL('../../../dist/', import.meta.url).href;
const SRC = new URL('../../', import.meta.url).href;

/** `weir` → src/index.ts, `weir/<entry>` → src/<entry>/index.ts, as tsconfig.json's paths say. */
function entrySource(specifier) {
  const m = /^weir(?:\/([\w-]+))?$/.exec(specifier);
  if (m === null) return undefined;
  const url = `${SRC}${m[1] === undefined ? '' : `${m[1]}/`}index.ts`;
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

export async function resolve(specifier, context, nextResolve) {
  let resolved;
  try {
    resolved = await nextResolve(specifier, context);
  } catch (e) {
    // dist/ not built (an install with --ignore-scripts) or being rebuilt: the sources are there.
    const source = e?.code === 'ERR_MODULE_NOT_FOUND' ? entrySource(specifier) : undefined;
    if (source === undefined) throw e;
    return { url: source, format: 'module', shortCircuit: true };
  }
  if (!resolved.url.startsWith(DIST) || !resolved.url.endsWith('.js')) return resolved;
  const source = `${SRC}${resolved.url.slice(DIST.length, -'.js'.length)}.ts`;
  return existsSync(fileURLToPath(source)) ? { url: source, format: 'module', shortCircuit: true } : resolved;
}

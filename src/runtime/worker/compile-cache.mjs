// Node's on-disk compile cache for the modules weir loads, where Node has one
// (module.enableCompileCache, Node 22.1 and later): the launcher (bin/weir.mjs) and every slot
// worker (worker-bootstrap.mjs) would otherwise parse and compile the engine anew each time.
// Node 20 has none for ES modules; there this module is not even loaded (its importers check
// for module.enableCompileCache first), and start-up is as before.
//
// The cache lies under node_modules/.cache/weir/compile of the node_modules that holds the
// package (the project's, for an installed package; the clone's own otherwise), beside weir's
// other caches. Node keys each entry by the module's content, so a rebuilt or upgraded package
// never gets a stale entry. NODE_COMPILE_CACHE, set by the user, wins (Node has enabled the cache
// there already), and NODE_DISABLE_COMPILE_CACHE turns it off. A directory that cannot be
// written costs nothing but the cache.
import module from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's directory: this file lies in src/runtime/worker/ or dist/runtime/worker/. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The directory of the compile cache for this package. */
export function compileCacheDir() {
  const root = PACKAGE_ROOT.replace(/[\\/]+$/, '');
  let holder = dirname(root);
  if (basename(holder).startsWith('@')) holder = dirname(holder);
  const nodeModules = basename(holder) === 'node_modules' ? holder : join(root, 'node_modules');
  return join(nodeModules, '.cache', 'weir', 'compile');
}

/** Enables Node's compile cache for this thread where Node has one; never throws. */
export function enableCompileCache() {
  if (typeof module.enableCompileCache !== 'function') return;
  try {
    module.enableCompileCache(compileCacheDir());
  } catch {
    // No cache: start-up as without one.
  }
}

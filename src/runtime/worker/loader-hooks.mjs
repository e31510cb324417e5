/**
 * Module loader hooks of a slot worker that runs the compiled engine (dist/, the published
 * package) or the bundled one (engine-bundle.mjs, weir running from its sources). They run on
 * Node's loader hooks thread and do three things:
 *
 *  - The engine's own imports (its files, its packages and theirs) are resolved and loaded by
 *    Node alone. The compiled engine imports nothing else but the job module; the bundle imports
 *    nothing else but the job module and its externals.
 *  - Bundle only: a source module of the engine that is in the bundle resolves to its facade,
 *    wherever the import comes from (`weir`, `weir/testing`'s imports, a path to `src/`), so the
 *    job and the worker runtime share one instance of every engine module. The compiled engine
 *    needs no such mapping: `weir` resolves to the very dist/ files the runtime runs.
 *  - Everything the job brings (its module, its imports, their imports) is resolved and loaded
 *    as tsx resolves and loads it in any weir process, so TypeScript, tsconfig paths, `.js`
 *    specifiers naming `.ts` files and tsx's interop all behave as they do on the launcher.
 *  - What tsx made of a module is kept on disk, keyed by everything it depends on, and served
 *    from there by later workers; tsx itself is loaded only when something is not there yet or
 *    only tsx can resolve it. Loading tsx costs a worker more than the rest of its start-up.
 *
 * Resolution skips tsx only where tsx would do what Node does: specifiers with an explicit
 * TypeScript extension, and package names while the tsconfig maps no paths. When tsx is already
 * registered in the worker (inherited `--import tsx`), it is the next hook and gets everything
 * these hooks pass on.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @type {string} URL of the bundle directory or of dist/, ending in `/`. */
let engineDir;
/** @type {string | undefined} URL of the job module; set for the compiled engine only. */
let jobModule;
/** @type {Map<string, string>} facade URL by source module URL */
let facades;
/** @type {Set<string>} what the bundle imports from outside itself */
let externals;
/** Whether tsx is the next hook already, so it must not be chained in here as well. */
let outerTsx = false;
/** @type {Promise<{ resolve: Function, load: Function }> | undefined} */
let tsxHooks;
/** Directory of tsx's cached output, or undefined when its inputs cannot be pinned down. */
let cacheDir;
/** Everything tsx's output depends on besides the module itself, or undefined (no caching). */
let cacheSalt;
/** Whether package names may resolve without tsx: the tsconfig maps no paths (paths, baseUrl). */
let packagesAsNode = false;
/** Whether tsx treats JavaScript importers like TypeScript ones (allowJs). */
let allowJs = true;

/**
 * URLs imported on behalf of the engine or of these hooks (the bundle's packages, tsx) and their
 * own imports. They are resolved and loaded by Node alone; on this thread, these hooks see even
 * their own imports.
 */
const engineDeps = new Set([import.meta.url]);

/** The files tsx transforms. */
const TYPESCRIPT = /\.(?:[cm]?ts|[tj]sx)$/;
const FORMAT = 'weir-tsx-output/1';
const MAX_CACHE_ENTRIES = 2000;

function pathOf(url) {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function isTypeScript(url) {
  return url.startsWith('file:') && TYPESCRIPT.test(pathOf(url));
}

export function initialize(data) {
  engineDir = data.engineDir;
  facades = new Map(Object.entries(data.facades));
  externals = new Set(data.externals);
  jobModule = data.jobModule;
  outerTsx = data.outerTsx;
  if (outerTsx) return;
  try {
    const tsconfig = tsconfigIdentity();
    if (tsconfig !== undefined) {
      const require = createRequire(import.meta.url);
      const tsxPackage = readFileSync(require.resolve('tsx/package.json'));
      const esbuildPackage = readFileSync(createRequire(require.resolve('tsx/package.json')).resolve('esbuild/package.json'));
      // tsx embeds sources in its source maps under coverage or an inspector.
      const sourcesContent = Boolean(process.env.NODE_V8_COVERAGE) || process.execArgv.some((a) => /^--(?:no-)?inspect/.test(a));
      cacheSalt = [FORMAT, process.version, String(sourcesContent), tsconfig.identity]
        .concat([tsxPackage, esbuildPackage].map((b) => createHash('sha256').update(b).digest('hex')))
        .join('\0');
      cacheDir = jobModule === undefined ? fileURLToPath(new URL('../tsx-output/', engineDir)) : compiledCacheDir();
      packagesAsNode = !/"baseUrl"/.test(tsconfig.text) && pathsMapOnlyWeir(tsconfig.text);
      allowJs = /"allowJs"/.test(tsconfig.text);
    }
  } catch {
    cacheSalt = undefined;
  }
}

/**
 * Where tsx's output is kept for the compiled engine: the `.cache` directory of the node_modules
 * that holds weir (where npm installed it), else of weir's own node_modules.
 */
function compiledCacheDir() {
  const root = fileURLToPath(new URL('../', engineDir));
  const parent = dirname(root);
  const modules = parent.endsWith(`${sep}node_modules`) ? parent : join(root, 'node_modules');
  return join(modules, '.cache', 'weir', 'tsx-output');
}

/**
 * Whether the tsconfig maps no paths but weir's own (`weir`, `weir/…`), as this repository's does
 * to its sources. Node resolves those to dist/ through package.json's exports, and dist/ URLs
 * lead to the same modules (the bundle's facades, or the compiled engine), so package names
 * still resolve without tsx.
 */
function pathsMapOnlyWeir(text) {
  const m = /"paths"\s*:\s*\{([^}]*)\}/.exec(text);
  if (m === null) return !/"paths"/.test(text);
  return [...m[1].matchAll(/"([^"]*)"\s*:/g)].every(([, key]) => key === 'weir' || key.startsWith('weir/'));
}

/**
 * The tsconfig tsx applies (TSX_TSCONFIG_PATH, else the nearest tsconfig.json from the working
 * directory up) as one string of paths and contents, with the files it extends by relative path;
 * undefined when it extends a package, whose file is not worth finding here.
 */
function tsconfigIdentity() {
  let first = process.env.TSX_TSCONFIG_PATH ? resolvePath(process.env.TSX_TSCONFIG_PATH) : undefined;
  if (first === undefined) {
    for (let dir = process.cwd(); ; dir = dirname(dir)) {
      const candidate = join(dir, 'tsconfig.json');
      try {
        if (statSync(candidate).isFile()) {
          first = candidate;
          break;
        }
      } catch {
        // not here; look further up
      }
      if (dirname(dir) === dir) break;
    }
  }
  if (first === undefined) return { identity: 'no tsconfig', text: '' };
  let identity = '';
  let text = '';
  const pending = [first];
  const seen = new Set();
  while (pending.length > 0) {
    const file = pending.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    const content = readFileSync(file, 'utf8');
    identity += `${file}\0${content}\0`;
    text += content;
    const m = /"extends"\s*:\s*(\[[^\]]*\]|"[^"]*")/.exec(content);
    if (!m) continue;
    const targets = JSON.parse(m[1]);
    for (const target of Array.isArray(targets) ? targets : [targets]) {
      if (!/^\.{1,2}[\\/]/.test(target)) return undefined;
      const path = resolvePath(dirname(file), target);
      pending.push(path.endsWith('.json') ? path : `${path}.json`);
    }
  }
  return { identity, text };
}

function tsx() {
  tsxHooks ??= import('tsx/esm').then(async (hooks) => {
    if (typeof hooks.resolve !== 'function' || typeof hooks.load !== 'function' || typeof hooks.initialize !== 'function') {
      throw new Error('tsx/esm does not export module loader hooks (resolve, load, initialize); the installed tsx is not one weir supports');
    }
    await hooks.initialize({});
    return hooks;
  });
  return tsxHooks;
}

function isEngine(url) {
  return url.startsWith(engineDir) || engineDeps.has(url);
}

function toFacade(resolved) {
  const facade = facades.get(resolved.url);
  return facade === undefined ? resolved : { ...resolved, url: facade, format: 'module' };
}

function isNotFound(e) {
  const code = e?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
}

/** The "type" of the nearest package.json of each directory asked about. */
const packageTypes = new Map();

function packageType(dir) {
  let type = packageTypes.get(dir);
  if (type !== undefined) return type;
  try {
    type = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type === 'module' ? 'module' : 'commonjs';
  } catch (e) {
    if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') throw e;
    type = dirname(dir) === dir ? 'commonjs' : packageType(dirname(dir));
  }
  packageTypes.set(dir, type);
  return type;
}

/** The format tsx gives a TypeScript file. */
function typeScriptFormat(url) {
  const path = pathOf(url);
  if (path.endsWith('.mts')) return 'module';
  if (path.endsWith('.cts')) return 'commonjs';
  return packageType(dirname(fileURLToPath(path)));
}

/** Whether tsx would resolve `specifier` exactly as Node does (see the header). */
function resolvesAsNode(specifier, parentURL) {
  if (specifier.includes('tsx-')) return false;
  if (/^(?:\.{1,2}\/|\/|file:)/.test(specifier)) {
    if (/\.(?:ts|mts|tsx)$/.test(pathOf(specifier))) return true;
    // tsx tries TypeScript files first for other specifiers from TypeScript importers (and from
    // any importer under allowJs).
    return !allowJs && parentURL !== undefined && !isTypeScript(parentURL);
  }
  return packagesAsNode && !/^[a-z][\w+.-]*:/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith('node:')) return nextResolve(specifier, context);
  if (jobModule !== undefined && (context.parentURL?.startsWith(engineDir) || engineDeps.has(context.parentURL))) {
    const resolved = await nextResolve(specifier, context);
    if (resolved.url !== jobModule) {
      if (resolved.url.startsWith('file:')) engineDeps.add(resolved.url);
      return resolved;
    }
  }
  const fromBundle = specifier.startsWith(engineDir) || (context.parentURL?.startsWith(engineDir) ?? false);
  if (fromBundle || engineDeps.has(context.parentURL)) {
    // The bundle imports its own files, its externals and builtins, and besides them only the
    // job module (dynamically, by URL). What the externals import is theirs.
    const resolved = await nextResolve(specifier, context);
    if (!fromBundle || resolved.url.startsWith(engineDir) || externals.has(resolved.url) || !resolved.url.startsWith('file:')) {
      if (resolved.url.startsWith('file:')) engineDeps.add(resolved.url);
      return resolved;
    }
  }
  if (outerTsx) return toFacade(await nextResolve(specifier, context));
  if (cacheSalt !== undefined && resolvesAsNode(specifier, context.parentURL)) {
    let resolved;
    try {
      resolved = await nextResolve(specifier, context);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (resolved !== undefined) {
      if (facades.has(resolved.url) || !isTypeScript(resolved.url)) return toFacade(resolved);
      // tsx resolves CommonJS TypeScript with knowledge of its importer's code; leave it to tsx.
      if (typeScriptFormat(resolved.url) === 'module') return { ...resolved, format: 'module' };
    }
  }
  return toFacade(await (await tsx()).resolve(specifier, context, nextResolve));
}

export async function load(url, context, nextLoad) {
  if (outerTsx || url.startsWith('node:') || isEngine(url)) return nextLoad(url, context);
  const key = await cacheKey(url, context);
  if (key !== undefined) {
    const cached = readCached(key);
    if (cached?.passThrough) return nextLoad(url, context);
    if (cached !== undefined) return { format: cached.format, source: cached.source, shortCircuit: true };
  }
  // Whether tsx asked Node for exactly this module and returned Node's answer as it was.
  let next;
  let sameRequest = false;
  const loaded = await (await tsx()).load(url, context, async (u, c) => {
    sameRequest = u === url && c === context;
    next = await nextLoad(u, c);
    return next;
  });
  // Kept only if the file still is what the key was computed from.
  if (key !== undefined && key === (await cacheKey(url, context))) {
    if (loaded === next && sameRequest) writeCached(key, { passThrough: true });
    else if ((loaded.format === 'module' || loaded.format === 'json') && loaded.source != null && loaded.responseURL === undefined) {
      writeCached(key, { format: loaded.format, source: typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source) });
    }
  }
  return loaded;
}

/** The cache key of tsx's output for `url`, or undefined when that output is not to be cached. */
async function cacheKey(url, context) {
  if (cacheSalt === undefined || !url.startsWith('file:') || /[?&#]tsx-/.test(url)) return undefined;
  const path = fileURLToPath(pathOf(url));
  let source;
  try {
    source = await readFile(path);
  } catch {
    return undefined;
  }
  const attributes = context.importAttributes ?? context.importAssertions ?? {};
  return createHash('sha256')
    .update(cacheSalt)
    .update('\0')
    .update(path)
    .update('\0')
    .update(String(context.format))
    .update('\0')
    .update(JSON.stringify(Object.entries(attributes).sort()))
    .update('\0')
    .update(JSON.stringify(context.conditions ?? []))
    .update('\0')
    .update(source)
    .digest('hex');
}

function readCached(key) {
  let text;
  try {
    text = readFileSync(join(cacheDir, `${key}.json`), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const entry = JSON.parse(text);
    return entry.passThrough === true || (typeof entry.format === 'string' && typeof entry.source === 'string') ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** `entry`: what tsx returned ({ format, source }), or { passThrough: true } where it returned Node's own result. */
function writeCached(key, entry) {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const file = join(cacheDir, `${key}.json`);
    const tmp = `${file}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, file);
    const entries = readdirSync(cacheDir);
    if (entries.length > MAX_CACHE_ENTRIES) {
      const byAge = entries.map((n) => ({ n, t: statSync(join(cacheDir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
      for (const { n } of byAge.slice(0, entries.length / 2)) rmSync(join(cacheDir, n), { force: true });
    }
  } catch {
    // A cache that cannot be written only means tsx runs again next time.
  }
}

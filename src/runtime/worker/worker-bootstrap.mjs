// Entry of every slot worker thread: sets up module loading, then runs the worker runtime
// (worker-main), which imports the job module.
//
// Three ways, one behaviour; only start-up time differs:
//  - compiled (the published package: this file lies in dist/ beside worker-main.js): the
//    worker imports the compiled engine before registering any module hooks, so Node alone
//    loads it; the hooks (loader-hooks.mjs) then load the job's own TypeScript through tsx. A
//    job's `import 'weir'` resolves to the same dist/ files, so the job and the runtime share
//    one instance of every engine module without any mapping.
//  - bundle (weir running from its TypeScript sources): the engine comes from its precompiled
//    development bundle (engine-bundle.mjs), with loader hooks that give the job module the
//    bundle's instances of weir's modules.
//  - sources: where the launcher found no usable bundle (see currentEngineBundle), or the bundle
//    cannot be built here, the worker loads the engine's TypeScript sources through tsx.
//
// A worker pre-started ahead of its job's graph (prestartLocalWorkers in worker-group.ts) is
// told only the job module and the engine at its start: it sets up all of the above, then waits
// for its WorkerData in its first message and hands that to the worker runtime in place of the
// thread's workerData.
//
// Start-up marks (phase, absolute time in ms, see StartupMark in protocol.ts) go to the
// launcher with the 'ready' message, so that start-up time can be measured where it is spent.
import { existsSync, readFileSync } from 'node:fs';
import module, { register } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { isPrebuiltJob } from './prebuilt-job.mjs';

const now = () => performance.timeOrigin + performance.now();
const marks = [['bootstrap', now()]];

// Node 22 and later: the engine is compiled from Node's on-disk cache (compile-cache.mjs).
if (typeof module.enableCompileCache === 'function') (await import('./compile-cache.mjs')).enableCompileCache();

/** Stack traces name the TypeScript sources: of the job, and of the engine where it has maps. */
const enableSourceMaps = () => process.setSourceMapsEnabled(true);

/**
 * Whether tsx's module hooks are active in this thread already: tsx preloaded (`--import tsx`,
 * inherited from the parent thread) on a Node version where it registers them in workers too.
 * The probe imports a TypeScript module that has no runtime content: protocol.ts among the
 * sources, its declaration file in dist/.
 */
async function tsxActive(probe) {
  const argv = process.execArgv;
  let preloaded = false;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(?:import|loader|experimental-loader)(?:=(.*))?$/.exec(argv[i]);
    if (m && /^tsx(?:\/|$)|[\\/]node_modules[\\/]tsx[\\/]/.test(m[1] ?? argv[i + 1] ?? '')) preloaded = true;
  }
  if (!preloaded) return false;
  try {
    await import(probe);
    return true;
  } catch {
    return false;
  }
}

async function fromBundle(ref) {
  enableSourceMaps();
  let bundle;
  try {
    const { openEngineBundle } = await import('./engine-bundle.mjs');
    bundle = await openEngineBundle(ref);
  } catch (e) {
    process.emitWarning(`the precompiled engine is not available (${e?.message ?? e}); this worker loads the TypeScript sources instead`, {
      code: 'WEIR_ENGINE_BUNDLE',
    });
    return undefined;
  }
  marks.push(['engine-bundle', now()]);
  register(new URL('./loader-hooks.mjs', import.meta.url), {
    data: {
      engineDir: bundle.dir,
      facades: bundle.modules,
      externals: bundle.externals,
      outerTsx: await tsxActive('./protocol.ts'),
    },
  });
  marks.push(['loader', now()]);
  return import(bundle.workerMain);
}

async function compiled() {
  const runtime = await import(COMPILED_MAIN.href);
  // The public entry too, as the bundle does: a job's first `import 'weir'` then finds it loaded.
  await import(new URL('../../index.js', import.meta.url).href);
  marks.push(['engine', now()]);
  // Only now: dist/ has no source maps, and Node would look for them in every engine module.
  enableSourceMaps();
  return runtime;
}

/**
 * Module loading for the job `jobModule` with the compiled engine: the loader hooks, except for
 * a job prebuilt to plain JavaScript (cli/job-prebuild.ts), which imports only packages and
 * builtins that Node loads alone: no hooks thread to start.
 */
async function compiledJobLoader(jobModule) {
  if (!isPrebuiltJob(jobModule)) {
    register(new URL('./loader-hooks.mjs', import.meta.url), {
      data: { engineDir: new URL('../../', import.meta.url).href, facades: {}, externals: [], jobModule, outerTsx: await tsxActive('./protocol.d.ts') },
    });
  }
  marks.push(['loader', now()]);
}

/** tsx's CommonJS hooks, for a job that Node loads as CommonJS TypeScript. */
async function commonJsLoader(jobModule) {
  if (commonJsTypeScript(jobModule)) {
    const { register: registerTsxCommonJs } = await import('tsx/cjs/api');
    registerTsxCommonJs();
  }
}

async function fromSources() {
  enableSourceMaps();
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  marks.push(['loader', now()]);
  return import('./worker-main.ts');
}

/**
 * Whether the job module is TypeScript that Node loads as CommonJS (`.cts`, or `.ts`/`.tsx` in a
 * package whose package.json does not say "type": "module", npm's default). Node's CommonJS
 * loader then compiles it, so tsx's CommonJS hooks must be registered in this thread, as the
 * launcher (bin/weir.mjs) registers them in its own. Other jobs do without: loading tsx costs.
 */
function commonJsTypeScript(url) {
  if (!url.startsWith('file:')) return false;
  const path = fileURLToPath(url);
  if (path.endsWith('.cts')) return true;
  if (!/\.tsx?$/.test(path)) return false;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type !== 'module';
    } catch (e) {
      if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') return false;
    }
    if (dirname(dir) === dir) return true;
  }
}

/** The compiled worker runtime, present only where this file is part of dist/. */
const COMPILED_MAIN = new URL('./worker-main.js', import.meta.url);
const isCompiled = existsSync(COMPILED_MAIN);

// A worker started before the launcher read its command line knows its job only once assigned
// (worker-group.ts, startEarlyWorkers): it loads the engine first and sets up the job's module
// loading then.
const known = workerData.jobModule !== undefined;
if (known) await commonJsLoader(workerData.jobModule);

let runtime;
if (isCompiled) {
  runtime = await compiled();
  if (known) await compiledJobLoader(workerData.jobModule);
} else {
  runtime = (workerData.engine && (await fromBundle(workerData.engine))) || (await fromSources());
  marks.push(['engine', now()]);
}
let slotData;
if (workerData.prestarted === true) {
  const assignment = await new Promise((resolve) => parentPort.once('message', resolve));
  if (assignment?.type !== 'weir-slot-assignment') throw new Error(`a pre-started worker expected its slot first, got ${JSON.stringify(assignment?.type)}`);
  slotData = assignment.data;
  // The job's arguments, as a worker started for them has them (Worker's argv option).
  process.argv.splice(2, process.argv.length - 2, ...assignment.argv);
  marks.push(['assigned', now()]);
  if (!known) {
    await commonJsLoader(slotData.jobModule);
    if (isCompiled) await compiledJobLoader(slotData.jobModule);
  }
}
runtime.runWorker(marks, slotData);

// Entry of every slot worker thread: sets up module loading, then runs the worker runtime
// (worker-main.ts), which imports the job module.
//
// A worker normally runs the engine from its precompiled bundle (engine-bundle.mjs), with
// loader hooks that give the job module the bundle's instances of weir's modules and load the
// job's own TypeScript through tsx. Where the launcher found no usable bundle (see
// currentEngineBundle), or the bundle cannot be built here, the worker loads the engine's
// TypeScript sources through tsx instead. Either way the worker behaves the same; only its
// start-up time differs.
//
// Start-up marks (phase, absolute time in ms, see StartupMark in protocol.ts) go to the
// launcher with the 'ready' message, so that start-up time can be measured where it is spent.
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';

const now = () => performance.timeOrigin + performance.now();
const marks = [['bootstrap', now()]];

// Stack traces name the TypeScript sources, of the engine and of the job alike.
process.setSourceMapsEnabled(true);

/**
 * Whether tsx's module hooks are active in this thread already: tsx preloaded (`--import tsx`,
 * inherited from the parent thread) on a Node version where it registers them in workers too.
 * The probe imports a TypeScript module that has no runtime content.
 */
async function tsxActive() {
  const argv = process.execArgv;
  let preloaded = false;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(?:import|loader|experimental-loader)(?:=(.*))?$/.exec(argv[i]);
    if (m && /^tsx(?:\/|$)|[\\/]node_modules[\\/]tsx[\\/]/.test(m[1] ?? argv[i + 1] ?? '')) preloaded = true;
  }
  if (!preloaded) return false;
  try {
    await import('./protocol.ts');
    return true;
  } catch {
    return false;
  }
}

async function fromBundle(ref) {
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
      outerTsx: await tsxActive(),
    },
  });
  marks.push(['loader', now()]);
  return import(bundle.workerMain);
}

async function fromSources() {
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  marks.push(['loader', now()]);
  return import('./worker-main.ts');
}

const runtime = (workerData.engine && (await fromBundle(workerData.engine))) || (await fromSources());
marks.push(['engine', now()]);
runtime.runWorker(marks);

// Builds the precompiled engine that slot workers load (src/runtime/worker/engine-bundle.mjs),
// so that the first job after `npm install` does not build it. Workers build it themselves
// when it is missing or the sources changed, so a failure here only costs that first job time:
// it is reported and never fails the install.
import { fileURLToPath } from 'node:url';
import { currentEngineBundle, openEngineBundle } from '../src/runtime/worker/engine-bundle.mjs';

try {
  const ref = currentEngineBundle();
  if (ref === undefined) {
    console.log('weir: the precompiled engine is disabled here (WEIR_ENGINE_BUNDLE=0, or a dependency is not installed)');
  } else {
    const bundle = await openEngineBundle(ref);
    console.log(`weir: precompiled engine ready in ${fileURLToPath(bundle.dir)}`);
  }
} catch (e) {
  console.warn(`weir: could not build the precompiled engine (${e instanceof Error ? e.message : String(e)}); workers will build it when first needed`);
}

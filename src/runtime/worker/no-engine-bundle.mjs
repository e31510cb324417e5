// What the compiled package (dist/) imports in place of engine-bundle.mjs (scripts/build.mjs
// maps the bundled modules' imports of it here). The development engine bundle exists only where
// weir runs from its TypeScript sources; loaded from anywhere else, engine-bundle.mjs answers
// that there is none. Answering it here spares `weir run` loading that module and node:crypto
// before it starts the job's slot workers (cli/early-workers.ts).

/** No engine bundle: workers load the compiled engine, as engine-bundle.mjs answers outside src/. */
export function currentEngineBundle() {
  return undefined;
}

/** Never called where there is no bundle; as engine-bundle.mjs would fail, with a reason. */
export async function openEngineBundle() {
  throw new Error('the compiled package has no development engine bundle');
}

/** Which engine bundle a worker is to run; plain data, so that it can cross to a worker. */
export interface EngineBundleRef {
  /** Hash of the sources the bundle is built from. */
  readonly key: string;
  /** Directories that may hold it, in order of preference. */
  readonly dirs: readonly string[];
}

/** The engine bundle as a worker uses it. */
export interface OpenEngineBundle {
  /** URL of the bundle's directory, ending in `/`. */
  readonly dir: string;
  /** URL of the worker runtime's facade. */
  readonly workerMain: string;
  /** Facade URL by the URL of each bundled source module. */
  readonly modules: Readonly<Record<string, string>>;
  /** URLs of the modules the bundle imports from outside itself, builtins aside. */
  readonly externals: readonly string[];
}

export function currentEngineBundle(): EngineBundleRef | undefined;
export function openEngineBundle(ref: EngineBundleRef): Promise<OpenEngineBundle>;

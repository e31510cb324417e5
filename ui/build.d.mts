/** Where the package serves the UI from: `<package>/dist/ui`. */
export declare const UI_DIST: string;
/** Typechecks and bundles the web UI into `outDir` (dist/ui by default); rejects with the reason on failure. */
export declare function buildUi(o?: { outDir?: string; quiet?: boolean }): Promise<string>;
/** Builds dist/ui when it is missing or older than a file of ui/. */
export declare function ensureUiBuilt(): Promise<string>;

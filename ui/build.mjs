// Builds the web UI (ui/src, TypeScript) into static assets with Vite: index.html, one script and
// one stylesheet, all served from /web/ by the JobManager (src/rest/routes/ui-routes.ts). Nothing
// is loaded from outside: uPlot, dagre and the styles are bundled, fonts are the system's.
//
// scripts/build.mjs calls buildUi() to put the UI into the package (dist/ui); tests that drive the
// UI in a browser call ensureUiBuilt(), which rebuilds dist/ui only when a source is newer.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const UI = fileURLToPath(new URL('./', import.meta.url));
const ROOT = join(UI, '..');
/** Where the package serves the UI from (src/rest/routes/ui-routes.ts resolves the same). */
export const UI_DIST = join(ROOT, 'dist', 'ui');

/** Typechecks ui/src (Vite only strips types) and bundles it into `outDir`, replaced whole. */
export async function buildUi({ outDir = UI_DIST, quiet = false } = {}) {
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  const check = spawnSync(process.execPath, [tsc, '-p', join(UI, 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`the web UI does not typecheck (tsc -p ui/tsconfig.json):\n${check.stdout}${check.stderr}`);
  let vite;
  try {
    vite = await import('vite');
  } catch (e) {
    throw new Error(`Vite is not installed (a dev dependency); run \`npm install\` first (${e instanceof Error ? e.message : String(e)})`);
  }
  const staging = `${outDir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await vite.build({
      configFile: false,
      root: UI,
      base: '/web/',
      logLevel: quiet ? 'silent' : 'warn',
      build: { outDir: staging, emptyOutDir: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 1000, reportCompressedSize: false },
    });
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`vite build of the web UI failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // Swapped in by renames, so a server reading outDir meanwhile finds the old build or the new
  // one. Test files may build at the same time: when another build's rename wins, ours (the
  // same files: Vite names them by content) is dropped.
  mkdirSync(dirname(outDir), { recursive: true });
  const old = `${outDir}.${process.pid}.old`;
  try {
    renameSync(outDir, old);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  try {
    renameSync(staging, outDir);
  } catch (e) {
    if (!['ENOTEMPTY', 'EEXIST'].includes(e.code) || !existsSync(join(outDir, 'index.html'))) throw e;
    rmSync(staging, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return outDir;
}

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

/** Builds dist/ui unless its page is there and newer than every file of ui/ (sources, config, this script). */
export async function ensureUiBuilt() {
  const stamp = join(UI_DIST, 'index.html');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newest(UI)) return UI_DIST;
  return buildUi({ quiet: true });
}

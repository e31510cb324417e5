/**
 * The web UI on the REST port: `GET /` redirects to `/web/`, and `GET /web/*` serves the built
 * assets (ui/, bundled by Vite into `<package>/dist/ui` by scripts/build.mjs). The page reads
 * the REST API of the same server, so it needs nothing else.
 *
 * The assets are read from `<package>/dist/ui` whether weir runs from dist/ or from its
 * TypeScript sources (this file sits at the same depth in both). Where they are missing the
 * answer is a 404 that says how to build them, never an empty page.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { HttpError } from '../rest-errors.ts';
import type { RestModule } from '../rest-module.ts';

/** Where the built UI lives: `<package root>/dist/ui`. */
export const WEB_UI_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

/** Where the browser is sent from `/`. */
export const WEB_UI_PATH = '/web/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page loads only what this server serves and talks only to it; styles may be inline (the
 * charts and the graph's legend set them), nothing else.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
};

/** The file under `dir` a request path names (index.html for the folder itself); undefined if it leaves `dir`. */
function fileFor(dir: string, pathname: string): string | undefined {
  const segments = pathname.split('/').filter(Boolean);
  if (segments[0] === 'v1') segments.shift();
  if (segments[0] !== 'web') return undefined;
  const rest = segments.slice(1).map((s) => decodeURIComponent(s));
  if (rest.some((s) => s === '..' || s.includes('/') || s.includes('\\') || s.includes('\0'))) return undefined;
  const file = normalize(join(dir, ...(rest.length === 0 ? ['index.html'] : rest)));
  return file.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? file : undefined;
}

/** The UI's routes, serving the assets of `dir` (the package's dist/ui by default). */
export function webUiRoutes(dir: string = WEB_UI_DIR): RestModule {
  const serve = async (c: Context): Promise<Response> => {
    const pathname = new URL(c.req.url).pathname;
    const file = fileFor(dir, pathname);
    if (file === undefined) throw new HttpError(404, `Not found: ${pathname}`);
    const found = await stat(file).catch(() => undefined);
    if (found === undefined || !found.isFile()) {
      const built = await stat(join(dir, 'index.html')).catch(() => undefined);
      if (built === undefined) throw new HttpError(404, `the web UI is not built (no ${join(dir, 'index.html')}): run \`npm run build\` in weir's directory`);
      throw new HttpError(404, `Not found: ${pathname}`);
    }
    const body = await readFile(file);
    const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
    // Vite names bundled assets by their content hash, so they never change; the page itself
    // must be fetched anew to pick up a rebuilt bundle.
    const cache = pathname.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return c.body(body, 200, { 'content-type': type, 'cache-control': cache, ...SECURITY_HEADERS });
  };
  return (routes) => {
    routes
      .get('/', (c) => c.redirect(WEB_UI_PATH, 302))
      .get('/web', serve)
      .get('/web/*', serve);
  };
}

/** The UI served from the package's dist/ui: the module in DEFAULT_REST_MODULES. */
export const uiRoutes: RestModule = webUiRoutes();

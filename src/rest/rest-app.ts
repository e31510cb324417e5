/**
 * The REST API as a hono app over a Dispatcher, with the resources, field names and status codes
 * of Flink's REST API (docs/rest.md lists every route). The routes come from route modules
 * (rest-module.ts); this file owns what every route shares:
 *
 * - paths: Flink's versioned prefix `/v1` is optional, and empty segments (`//`, a trailing `/`)
 *   are ignored; a path with malformed percent-encoding is a 400;
 * - errors: every error is Flink's `{"errors": [message]}` with the status of rest-errors.ts; an
 *   unknown path is a 404 `Not found: <path>`; a 500 says `Internal server error: <message>` and
 *   its stack goes to the log;
 * - JSON answers with `content-type: application/json; charset=utf-8` (`json` below).
 *
 * To serve more on the same app (a web UI, metrics), write a RestModule and add it to the list
 * the server is started with; nothing here changes.
 */
import { Hono, type Context } from 'hono';
import type { Logger } from '../core/logger.ts';
import { HttpError, renderError, statusOf } from './rest-errors.ts';
import type { RestContext, RestModule } from './rest-module.ts';
import { RouteTable } from './route-table.ts';

/** A JSON answer. */
export function json(c: Context, status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(body), status as 200, { 'content-type': 'application/json; charset=utf-8', ...headers });
}

/** A path parameter of the route's pattern. */
export function param(c: Context, name: string): string {
  const value = c.req.param(name);
  if (value === undefined) throw new Error(`the route has no parameter :${name}`);
  return value;
}

/** The request's path as routes see it: no `/v1` prefix, no empty segments, still percent-encoded. */
function routedPath(request: Request): string {
  const url = request.url;
  const start = url.indexOf('/', url.indexOf('://') + 3);
  if (start < 0) return '/';
  const end = url.search(/[?#]/);
  let segments = url.slice(start, end < start ? undefined : end).split('/').filter(Boolean);
  if (segments[0] === 'v1') segments = segments.slice(1); // Flink's versioned prefix
  return `/${segments.join('/')}`;
}

const pathname = (c: Context): string => new URL(c.req.url).pathname;

function errorAnswer(c: Context, e: unknown, logger: Logger): Response {
  const status = statusOf(e);
  const text = e instanceof Error ? e.message : String(e);
  if (status === 500) logger.error(`REST ${c.req.method} ${pathname(c)} failed: ${e instanceof Error ? renderError(e) : text}`);
  return json(c, status, { errors: [status === 500 ? `Internal server error: ${text}` : text] }, e instanceof HttpError ? { ...e.headers } : {});
}

/** The app serving `modules` over `context`. */
export function createRestApp(context: RestContext, modules: readonly RestModule[]): Hono {
  const app = new Hono({ getPath: routedPath });
  app.use(async (c, next) => {
    try {
      for (const segment of pathname(c).split('/')) decodeURIComponent(segment);
    } catch {
      throw new HttpError(400, `malformed percent-encoding in the path ${pathname(c)}`);
    }
    await next();
  });
  const table = new RouteTable();
  for (const register of modules) register(table, context);
  table.install(app);
  app.notFound((c) => json(c, 404, { errors: [`Not found: ${pathname(c)}`] }));
  app.onError((e, c) => errorAnswer(c, e, context.logger));
  return app;
}

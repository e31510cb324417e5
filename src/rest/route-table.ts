/**
 * The routes the modules registered, installed on a hono app in an order that gives a literal
 * segment precedence over a parameter, with a 405 behind every pattern (rest-module.ts has the
 * contract).
 */
import type { Hono } from 'hono';
import { HttpError } from './rest-errors.ts';
import type { HttpMethod, RestRoutes, RouteHandler } from './rest-module.ts';

/** Literal segments of a pattern: more of them is more specific. */
const literals = (pattern: string): number => pattern.split('/').filter((s) => s !== '' && !s.startsWith(':') && s !== '*').length;

export class RouteTable implements RestRoutes {
  /** pattern → method → handler, in registration order. */
  readonly #routes = new Map<string, Map<HttpMethod, RouteHandler>>();

  on(method: HttpMethod, pattern: string, handler: RouteHandler): this {
    const methods = this.#routes.get(pattern) ?? new Map<HttpMethod, RouteHandler>();
    this.#routes.set(pattern, methods);
    if (methods.has(method)) throw new Error(`${method} ${pattern} is registered twice`);
    methods.set(method, handler);
    return this;
  }

  get(pattern: string, handler: RouteHandler): this {
    return this.on('GET', pattern, handler);
  }

  post(pattern: string, handler: RouteHandler): this {
    return this.on('POST', pattern, handler);
  }

  patch(pattern: string, handler: RouteHandler): this {
    return this.on('PATCH', pattern, handler);
  }

  /**
   * Registers every route on `app`. hono runs the handlers of matching routes in registration
   * order, so the most specific patterns go first, each followed by its 405 catch-all.
   */
  install(app: Hono): void {
    const patterns = [...this.#routes.keys()].sort((a, b) => literals(b) - literals(a));
    for (const pattern of patterns) {
      const methods = this.#routes.get(pattern)!;
      for (const [method, handler] of methods) app.on(method, pattern, handler);
      const allowed = [...methods.keys()].join(', ');
      app.all(pattern, (c) => {
        throw new HttpError(405, `${c.req.method} is not allowed on ${pattern} (allowed: ${allowed})`, { allow: allowed });
      });
    }
  }
}

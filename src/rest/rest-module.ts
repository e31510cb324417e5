/**
 * How routes reach the REST app. A route module is a function that registers its routes on a
 * RestRoutes; the server takes a list of modules (rest-server.ts, DEFAULT_REST_MODULES), so
 * adding a group of routes means adding a module file and putting it in the list given to the
 * server, never editing a table of routes.
 *
 * The same app is meant to serve more than the REST API: a web UI is a module registering
 * `GET /web/*` (assets) and `GET /` (a redirect), a metrics endpoint one registering
 * `GET /metrics`; their handlers return any Response (HTML, text), not only JSON. Errors thrown
 * by any handler get the API's error handling (rest-app.ts).
 */
import type { Context } from 'hono';
import type { Dispatcher } from '../cluster/dispatcher.ts';
import type { Logger } from '../core/logger.ts';
import type { DashboardConfiguration } from './rest-types.ts';

export type RouteHandler = (c: Context) => Response | Promise<Response>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Where a module registers its routes. Patterns are hono's: literal segments and `:params`
 * (Flink's notation too), optionally a trailing `*`. Where two patterns match a path, the one
 * with more literal segments wins (/jobs/overview over /jobs/:jobid), whatever the order of
 * registration. A method not registered on a pattern that matches is a 405 listing the others.
 */
export interface RestRoutes {
  on(method: HttpMethod, pattern: string, handler: RouteHandler): this;
  get(pattern: string, handler: RouteHandler): this;
  post(pattern: string, handler: RouteHandler): this;
  patch(pattern: string, handler: RouteHandler): this;
}

/** What route modules work with. */
export interface RestContext {
  readonly dispatcher: Dispatcher;
  /** GET /config's answer, computed once when the server starts. */
  readonly about: DashboardConfiguration;
  readonly logger: Logger;
}

/** A group of routes. */
export type RestModule = (routes: RestRoutes, context: RestContext) => void;

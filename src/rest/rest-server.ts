/**
 * The cluster's REST API served over HTTP by @hono/node-server: the app of rest-app.ts with the
 * route modules it is given (by default the REST API's own, DEFAULT_REST_MODULES).
 *
 * It listens on the loopback interface unless told otherwise: the API runs arbitrary job code
 * on this machine for anyone who can reach it, and it has no authentication.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Dispatcher } from '../cluster/dispatcher.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import { dashboardConfiguration, gitRevision, weirVersion } from './dto/cluster-dto.ts';
import { createRestApp } from './rest-app.ts';
import type { RestModule } from './rest-module.ts';
import { checkpointRoutes } from './routes/checkpoint-routes.ts';
import { clusterRoutes } from './routes/cluster-routes.ts';
import { jobRoutes } from './routes/job-routes.ts';
import { metricRoutes } from './routes/metric-routes.ts';
import { metricsRoutes } from './routes/metrics-routes.ts';
import { overviewRoutes } from './routes/overview-routes.ts';
import { savepointRoutes } from './routes/savepoint-routes.ts';
import { taskManagerRoutes } from './routes/taskmanager-routes.ts';
import { uiRoutes } from './routes/ui-routes.ts';
import { vertexRoutes } from './routes/vertex-routes.ts';

/** The REST API's route modules, in Flink's resource groups. */
export const DEFAULT_REST_MODULES: readonly RestModule[] = [clusterRoutes, overviewRoutes, taskManagerRoutes, jobRoutes, vertexRoutes, metricRoutes, checkpointRoutes, savepointRoutes, metricsRoutes, uiRoutes];

export interface RestServerOptions {
  /** Interface to listen on; the loopback interface by default. */
  readonly host?: string;
  /** 0 picks a free port; 8081 (Flink's) by default. */
  readonly port?: number;
  /** Where unexpected (500) errors are logged with their stacks; silent by default. */
  readonly logger?: Logger;
  /**
   * What the server serves; DEFAULT_REST_MODULES by default. More (a web UI, metrics) is served
   * by passing `[...DEFAULT_REST_MODULES, webUiRoutes]` (see rest-module.ts).
   */
  readonly modules?: readonly RestModule[];
}

export interface RestServer {
  /** The port it listens on (the one picked when 0 was asked for). */
  readonly port: number;
  /** Stops listening and ends open connections; resolves when the server is closed. */
  close(): Promise<void>;
}

/** Starts the REST API of `dispatcher`; resolves once it listens. */
export function startRestServer(dispatcher: Dispatcher, options: RestServerOptions = {}): Promise<RestServer> {
  const { host = '127.0.0.1', port = 8081, logger = silentLogger, modules = DEFAULT_REST_MODULES } = options;
  const app = createRestApp({ dispatcher, about: dashboardConfiguration(weirVersion(), gitRevision()), logger }, modules);
  // The engine's global Request and Response stay Node's own.
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;
  return new Promise<RestServer>((resolveStarted, rejectStarted) => {
    server.once('error', rejectStarted);
    server.listen(port, host, () => {
      server.off('error', rejectStarted);
      const actual = (server.address() as AddressInfo).port;
      resolveStarted({
        port: actual,
        close: () =>
          new Promise<void>((resolveClosed) => {
            server.close(() => resolveClosed());
            // Idle keep-alive connections end now; requests in flight get a moment to finish.
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 1000).unref();
          }),
      });
    });
  });
}

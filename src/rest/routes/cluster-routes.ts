/** GET /config: what the cluster says about itself (Flink's dashboard configuration). */
import { json } from '../rest-app.ts';
import type { RestModule } from '../rest-module.ts';

export const clusterRoutes: RestModule = (routes, { about }) => {
  routes.get('/config', (c) => json(c, 200, about));
};

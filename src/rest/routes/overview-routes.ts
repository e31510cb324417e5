/**
 * The cluster and its configuration: GET /overview, GET /jobmanager/config and
 * GET /jobs/:jobid/config.
 */
import { clusterOverview, configurationEntries, jobConfigOf } from '../dto/overview-dto.ts';
import { json, param } from '../rest-app.ts';
import type { RestModule } from '../rest-module.ts';

export const overviewRoutes: RestModule = (routes, { dispatcher: d, about }) => {
  routes
    .get('/overview', (c) =>
      json(c, 200, clusterOverview({ slots: d.slots, freeSlots: d.freeSlots, jobs: d.jobs(), version: about['weir-version'], revision: about['weir-revision'] })),
    )
    .get('/jobmanager/config', (c) => json(c, 200, configurationEntries({ ...d.config, 'taskmanager.numberOfTaskSlots': String(d.slots) })))
    .get('/jobs/:jobid/config', (c) => json(c, 200, jobConfigOf(d.job(param(c, 'jobid')))));
};

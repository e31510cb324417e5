/** Savepoints and stop-with-savepoint: trigger, and the status of either by trigger id. */
import { operationResult } from '../dto/operation-dto.ts';
import { readBody } from '../request-input.ts';
import { json, param } from '../rest-app.ts';
import type { RestModule } from '../rest-module.ts';
import { savepointTriggerBody, stopBody } from '../rest-schemas.ts';

export const savepointRoutes: RestModule = (routes, { dispatcher: d }) => {
  routes
    .post('/jobs/:jobid/savepoints', async (c) => {
      const o = await readBody(c.req.raw, savepointTriggerBody);
      const requestId = d.triggerSavepoint(param(c, 'jobid'), { targetDirectory: o['target-directory'] ?? undefined, cancelJob: o['cancel-job'] ?? false });
      return json(c, 202, { 'request-id': requestId });
    })
    .get('/jobs/:jobid/savepoints/:triggerid', (c) =>
      json(c, 200, operationResult(d.savepointStatus(param(c, 'jobid'), param(c, 'triggerid')), (location) => ({ location }))),
    )
    .post('/jobs/:jobid/stop', async (c) => {
      const o = await readBody(c.req.raw, stopBody);
      const requestId = d.stop(param(c, 'jobid'), { targetDirectory: o.targetDirectory ?? undefined, drain: o.drain ?? false });
      return json(c, 202, { 'request-id': requestId });
    });
};

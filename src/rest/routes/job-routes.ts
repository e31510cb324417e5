/**
 * The jobs: list (ids and statuses), overview, submission (POST /jobs, a job module's source),
 * details, cancellation (PATCH ?mode=cancel) and exceptions.
 */
import { detailsOf, exceptionsOf, overviewOf } from '../dto/job-dto.ts';
import { readJsonBody, validated } from '../request-input.ts';
import { json, param } from '../rest-app.ts';
import { HttpError } from '../rest-errors.ts';
import type { RestModule } from '../rest-module.ts';
import { cancelQuery } from '../rest-schemas.ts';

export const jobRoutes: RestModule = (routes, { dispatcher: d }) => {
  routes
    .get('/jobs', (c) => json(c, 200, { jobs: d.jobs().map((j) => ({ id: j.id, status: j.status })) }))
    .post('/jobs', async (c) => {
      const body = await readJsonBody(c.req.raw);
      if (body === undefined) throw new HttpError(400, 'the body of POST /jobs must be a job submission: {"jobModule": {"fileName", "source"}, ...}');
      const jobid = await d.submit(body as never); // validated by the dispatcher, which names the bad field
      return json(c, 202, { jobid, jobUrl: `/jobs/${jobid}` });
    })
    .get('/jobs/overview', (c) => json(c, 200, { jobs: d.jobs().map(overviewOf) }))
    .get('/jobs/:jobid', (c) => {
      const info = d.job(param(c, 'jobid'));
      return json(c, 200, detailsOf(info, d.subtaskMetrics(info.id)));
    })
    .patch('/jobs/:jobid', async (c) => {
      validated(cancelQuery, c.req.query());
      await d.cancel(param(c, 'jobid'));
      return json(c, 202, {});
    })
    .get('/jobs/:jobid/exceptions', (c) => json(c, 200, exceptionsOf(d.job(param(c, 'jobid')))));
};

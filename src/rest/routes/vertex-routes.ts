/** One job vertex: GET /jobs/:jobid/vertices/:vertexid and its backpressure. */
import type { Context } from 'hono';
import type { Dispatcher, JobInfo, VertexInfo } from '../../cluster/dispatcher.ts';
import { vertexBackPressure, vertexDetails } from '../dto/vertex-dto.ts';
import { json, param } from '../rest-app.ts';
import { HttpError } from '../rest-errors.ts';
import type { RestModule } from '../rest-module.ts';

/** The job (404 if unknown) and the vertex named in the path (404 if the job has none by that id). */
export function vertexOf(d: Dispatcher, c: Context): { info: JobInfo; vertex: VertexInfo } {
  const info = d.job(param(c, 'jobid'));
  const vertex = info.vertices.find((v) => v.id === param(c, 'vertexid'));
  if (!vertex) throw new HttpError(404, `unknown vertex ${param(c, 'vertexid')} of job ${info.id}`);
  return { info, vertex };
}

export const vertexRoutes: RestModule = (routes, { dispatcher: d }) => {
  routes
    .get('/jobs/:jobid/vertices/:vertexid', (c) => {
      const { info, vertex } = vertexOf(d, c);
      return json(c, 200, vertexDetails(info, vertex, d.subtaskMetrics(info.id)));
    })
    .get('/jobs/:jobid/vertices/:vertexid/backpressure', (c) => {
      const { info, vertex } = vertexOf(d, c);
      return json(c, 200, vertexBackPressure(vertex, d.subtaskMetrics(info.id)));
    });
};

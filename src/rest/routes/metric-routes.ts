/**
 * Metrics as Flink's REST API serves them (dto/metric-dto.ts has the ids and `?get=`
 * semantics): a job's, a vertex's (per subtask, aggregated over subtasks, one subtask's), the
 * vertex's input watermarks and subtask times, the JobManager's and the TaskManager's.
 * Figures are the latest each subtask reported (every second while it runs), so they answer at
 * once also while a job restarts.
 */
import { ClusterMetrics } from '../../metrics/cluster-metrics.ts';
import {
  aggregatedAnswer,
  aggregationsOf,
  metricsAnswer,
  metricStore,
  subtaskMetricStore,
  subtasksOf,
  vertexMetricStore,
} from '../dto/metric-dto.ts';
import { TASK_MANAGER_ID } from '../dto/taskmanager-dto.ts';
import { subtaskTimes } from '../dto/vertex-dto.ts';
import { json, param } from '../rest-app.ts';
import { HttpError } from '../rest-errors.ts';
import type { RestModule } from '../rest-module.ts';
import { vertexOf } from './vertex-routes.ts';

/** Scope components of the JobManager's group (`<host>.jobmanager`) and a TaskManager's (`<host>.taskmanager.<tm_id>`). */
const JOB_MANAGER_SCOPE = 2;
const TASK_MANAGER_SCOPE = 3;
/** Of a job's group on the JobManager: `<host>.jobmanager.<job_name>`. */
const JOB_SCOPE = 3;

export const metricRoutes: RestModule = (routes, { dispatcher: d }) => {
  const cluster = new ClusterMetrics(d);
  routes
    .get('/jobmanager/metrics', (c) => json(c, 200, metricsAnswer(metricStore(cluster.jobManager(), JOB_MANAGER_SCOPE), c.req.query('get'))))
    .get('/taskmanagers/:taskmanagerid/metrics', (c) => {
      const id = param(c, 'taskmanagerid');
      if (id !== TASK_MANAGER_ID) throw new HttpError(404, `Could not find TaskExecutor ${id}.`);
      return json(c, 200, metricsAnswer(metricStore(cluster.taskManager(), TASK_MANAGER_SCOPE), c.req.query('get')));
    })
    .get('/jobs/:jobid/metrics', (c) => {
      const id = d.job(param(c, 'jobid')).id;
      return json(c, 200, metricsAnswer(metricStore(d.jobMetrics(id), JOB_SCOPE), c.req.query('get')));
    })
    .get('/jobs/:jobid/vertices/:vertexid/metrics', (c) => {
      const { info, vertex } = vertexOf(d, c);
      return json(c, 200, metricsAnswer(vertexMetricStore(vertex.index, d.subtaskMetrics(info.id)), c.req.query('get')));
    })
    .get('/jobs/:jobid/vertices/:vertexid/subtasks/metrics', (c) => {
      const { info, vertex } = vertexOf(d, c);
      const subtasks = subtasksOf(c.req.query('subtasks'), vertex.parallelism);
      const aggs = aggregationsOf(c.req.query('agg'));
      return json(c, 200, aggregatedAnswer(vertex.index, d.subtaskMetrics(info.id), subtasks, c.req.query('get'), aggs));
    })
    .get('/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics', (c) => {
      const { info, vertex } = vertexOf(d, c);
      const raw = param(c, 'subtaskindex');
      if (!/^\d+$/.test(raw)) throw new HttpError(400, `subtask index "${raw}" is not a non-negative integer`);
      const index = Number(raw);
      if (index >= vertex.parallelism) throw new HttpError(404, `vertex ${vertex.id} of job ${info.id} has no subtask ${index} (parallelism ${vertex.parallelism})`);
      return json(c, 200, metricsAnswer(subtaskMetricStore(vertex.index, index, d.subtaskMetrics(info.id)), c.req.query('get')));
    })
    .get('/jobs/:jobid/vertices/:vertexid/watermarks', (c) => {
      const { info, vertex } = vertexOf(d, c);
      const store = vertexMetricStore(vertex.index, d.subtaskMetrics(info.id));
      const ids = Array.from({ length: vertex.parallelism }, (_, s) => `${s}.currentInputWatermark`);
      return json(c, 200, metricsAnswer(store, ids.join(',')));
    })
    .get('/jobs/:jobid/vertices/:vertexid/subtasktimes', (c) => {
      const { info, vertex } = vertexOf(d, c);
      return json(c, 200, subtaskTimes(info, vertex));
    });
};

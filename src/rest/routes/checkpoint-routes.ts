/**
 * Checkpoints: statistics (job, one checkpoint, one vertex's subtasks), the checkpointing
 * configuration, and manual checkpoints (trigger and status by trigger id).
 */
import type { Context } from 'hono';
import type { CheckpointStatsEntry } from '../../checkpoint/checkpoint-stats.ts';
import type { Dispatcher, JobInfo } from '../../cluster/dispatcher.ts';
import { checkpointConfig, checkpointingStatistics, checkpointStatistics, EMPTY_STATS, subtaskDetails } from '../dto/checkpoint-dto.ts';
import { operationResult } from '../dto/operation-dto.ts';
import { readBody, validated } from '../request-input.ts';
import { json, param } from '../rest-app.ts';
import { HttpError } from '../rest-errors.ts';
import type { RestModule } from '../rest-module.ts';
import { checkpointIdParam, checkpointTriggerBody } from '../rest-schemas.ts';

/** The job (404 if unknown), then the checkpoint named in the path (400 if not an id, 404 if not in the statistics). */
async function checkpointEntry(d: Dispatcher, c: Context): Promise<{ info: JobInfo; entry: CheckpointStatsEntry }> {
  const info = d.job(param(c, 'jobid'));
  const id = validated(checkpointIdParam, param(c, 'checkpointid'));
  const s = (await d.checkpointStats(info.id)) ?? EMPTY_STATS;
  const entry = [...s.history, s.latest.completed, s.latest.savepoint, s.latest.failed].find((e) => e?.id === id);
  if (!entry) throw new HttpError(404, `checkpoint ${id} of job ${info.id} is not in its checkpoint statistics (they keep the most recent checkpoints)`);
  return { info, entry };
}

export const checkpointRoutes: RestModule = (routes, { dispatcher: d }) => {
  routes
    .get('/jobs/:jobid/checkpoints', async (c) => {
      const id = d.job(param(c, 'jobid')).id;
      return json(c, 200, checkpointingStatistics((await d.checkpointStats(id)) ?? EMPTY_STATS, d.checkpointSummaries(id)));
    })
    .post('/jobs/:jobid/checkpoints', async (c) => {
      await readBody(c.req.raw, checkpointTriggerBody);
      return json(c, 202, { 'request-id': d.triggerCheckpoint(param(c, 'jobid')) });
    })
    .get('/jobs/:jobid/checkpoints/config', (c) => json(c, 200, checkpointConfig(d.job(param(c, 'jobid')))))
    .get('/jobs/:jobid/checkpoints/details/:checkpointid', async (c) => {
      const { info, entry } = await checkpointEntry(d, c);
      return json(c, 200, checkpointStatistics(entry, info.vertices));
    })
    .get('/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid', async (c) => {
      const { info, entry } = await checkpointEntry(d, c);
      const vertex = info.vertices.find((v) => v.id === param(c, 'vertexid'));
      if (!vertex) throw new HttpError(404, `unknown vertex ${param(c, 'vertexid')} of job ${info.id}`);
      return json(c, 200, subtaskDetails(entry, vertex));
    })
    .get('/jobs/:jobid/checkpoints/:triggerid', (c) =>
      json(c, 200, operationResult(d.checkpointStatus(param(c, 'jobid'), param(c, 'triggerid')), (checkpointId) => ({ checkpointId }))),
    );
};

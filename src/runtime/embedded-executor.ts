/**
 * Runs jobs inside the current process: the embedded default. In 'threads' mode each slot is a
 * worker thread (real parallelism); in 'inline' mode one slot on the calling thread hosts every
 * subtask through the same task and channel code, which makes runs deterministic for tests.
 * The job itself (attempts, checkpoints, failover) is a LocalJob.
 */
import { validateCheckpointing } from '../api/checkpoint-config.ts';
import type { Pipeline, PipelineExecutor } from '../api/execution-context.ts';
import type { JobClient } from '../api/job-client.ts';
import { buildJobGraph } from '../graph/job-graph.ts';
import { LocalJob } from './local-job.ts';

export type { LocalJobResult } from './local-job.ts';

export class EmbeddedExecutor implements PipelineExecutor {
  async execute(pipeline: Pipeline): Promise<JobClient> {
    validateCheckpointing(pipeline.config);
    const graph = buildJobGraph(pipeline);
    const job = new LocalJob(pipeline, graph);
    await job.start();
    return job.client();
  }
}

/**
 * Runs jobs inside the current process: the embedded default. In 'threads' mode each slot is a
 * worker thread (real parallelism); in 'inline' mode one slot on the calling thread hosts every
 * subtask through the same task and channel code, which makes runs deterministic for tests.
 * The job itself (attempts, checkpoints, failover) is a LocalJob.
 */
import { validateCheckpointing } from '../api/checkpoint-config.ts';
import type { Pipeline, PipelineExecutor } from '../api/execution-context.ts';
import type { JobClient } from '../api/job-client.ts';
import { buildJobGraph, type JobGraph } from '../graph/job-graph.ts';
import { resolveStateBackend } from '../state/state-backend-registry.ts';
import { LocalJob } from './local-job.ts';

export type { LocalJobResult } from './local-job.ts';

/**
 * What every executor does at submission, before anything runs: rejects invalid checkpoint
 * settings, builds the job graph, and warns about operators whose state depends on position.
 */
export function prepareJobGraph(pipeline: Pipeline): JobGraph {
  validateCheckpointing(pipeline.config);
  // An unknown name, or options the backend refuses, fail here, not in a worker (creating it opens nothing).
  resolveStateBackend(pipeline.config);
  const graph = buildJobGraph(pipeline);
  warnAboutMissingUids(pipeline, graph);
  return graph;
}

export class EmbeddedExecutor implements PipelineExecutor {
  async execute(pipeline: Pipeline): Promise<JobClient> {
    const graph = prepareJobGraph(pipeline);
    const job = new LocalJob(pipeline, graph);
    await job.start();
    return job.client();
  }
}

/**
 * State in checkpoints and savepoints is matched to operators by operator id, which derives from
 * uid() or, without one, from the operator's position in the pipeline. A job that snapshots or
 * restores state is told once, at submission, which operators depend on their position.
 */
export function warnAboutMissingUids(pipeline: Pipeline, graph: JobGraph): void {
  const config = pipeline.config;
  const snapshots = config.get('execution.checkpointing.interval') !== undefined || config.get('execution.savepoint.path') !== undefined;
  // The executeAndCollect() sink holds no state and cannot be given a uid.
  const unnamed = graph.nodesWithoutUid.filter((n) => !(n.transformation.kind === 'sink' && n.transformation.sink.kind === 'collect'));
  if (!snapshots || unnamed.length === 0) return;
  const names = unnamed.map((n) => JSON.stringify(n.name)).join(', ');
  process.emitWarning(
    `Job "${pipeline.jobName}": operators without uid(): ${names}. Their state in checkpoints and savepoints is matched by their position in the pipeline, ` +
      'so changing the pipeline may orphan it; set uid() on every stateful operator.',
    { code: 'WEIR_MISSING_UID' },
  );
}

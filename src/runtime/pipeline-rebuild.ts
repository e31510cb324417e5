/**
 * Builds another copy of a job's pipeline by importing its module again, the way every slot
 * gets user functions of its own (worker threads, and inline slots beyond the first). The
 * module's execute() calls are captured instead of starting jobs: calls before the expected one
 * end at once as finished, the expected one is captured and never returns (its module stays
 * suspended there), so the module cannot run anything past it.
 */
import { executionRegistry, type Pipeline } from '../api/execution-context.ts';
import type { JobClient, JobExecutionResult } from '../api/job-client.ts';
import { buildJobGraph, firstDifference, type JobGraph } from '../graph/job-graph.ts';

export interface ExpectedGraph {
  readonly ordinal: number;
  readonly fingerprint: string;
  readonly description: readonly string[];
}

function finishedClient(jobName: string): JobClient {
  const result: JobExecutionResult = { jobId: '', jobName, netRuntime: 0, getJobID: () => '', getNetRuntime: () => 0 };
  return {
    getJobID: () => '',
    getJobStatus: async () => 'FINISHED',
    cancel: async () => {},
    getJobExecutionResult: async () => result,
    triggerCheckpoint: async () => {
      throw new Error(`job "${jobName}" has finished`);
    },
    triggerSavepoint: async () => {
      throw new Error(`job "${jobName}" has finished`);
    },
    stopWithSavepoint: async () => {
      throw new Error(`job "${jobName}" has finished`);
    },
    getCheckpointStats: async () => undefined,
    getNumRestarts: async () => 0,
  };
}

/**
 * Imports `moduleUrl` and returns the graph of its execute() call number `expected.ordinal`,
 * refusing a module that returns without that call or builds a different graph. `where` names
 * the copy in error messages (e.g. "worker 1"). `mark`, if given, is told when the pipeline was
 * captured ('pipeline') and when its graph was built and checked ('graph').
 */
export async function rebuildPipeline(
  moduleUrl: string,
  expected: ExpectedGraph,
  where: string,
  mark?: (phase: 'pipeline' | 'graph') => void,
): Promise<{ pipeline: Pipeline; graph: JobGraph }> {
  const registry = executionRegistry();
  const saved = { executor: registry.executor, calls: registry.executeCalls };
  let capture!: (p: Pipeline) => void;
  const captured = new Promise<Pipeline>((r) => (capture = r));
  registry.executeCalls = 0;
  registry.executor = {
    execute(p) {
      if (p.ordinal < expected.ordinal) return Promise.resolve(finishedClient(p.jobName));
      if (p.ordinal === expected.ordinal) capture(p);
      return new Promise<JobClient>(() => {});
    },
  };
  try {
    const returned = import(moduleUrl).then(() => undefined);
    const pipeline = await Promise.race([captured, returned]);
    if (!pipeline) {
      throw new Error(
        `the job module ${moduleUrl} finished without calling env.execute() in ${where} (call number ${expected.ordinal + 1} was expected)`,
      );
    }
    mark?.('pipeline');
    const graph = buildJobGraph(pipeline);
    if (graph.fingerprint !== expected.fingerprint) {
      throw new Error(
        `the job graph built in ${where} differs from the launcher's; pipeline construction must be deterministic (same operators, order, parallelism and uids on every import). First difference: ${firstDifference(expected.description, graph.description)}`,
      );
    }
    mark?.('graph');
    return { pipeline, graph };
  } finally {
    registry.executor = saved.executor;
    registry.executeCalls = saved.calls;
  }
}

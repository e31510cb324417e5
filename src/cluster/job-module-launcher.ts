/**
 * How a submitted job module becomes a job. The dispatcher imports the module the way `weir run`
 * does (setLaunchContext), with a launcher-owned PipelineExecutor installed. The module's first
 * `env.execute()` reaches that executor, which hands the pipeline to `start` (the dispatcher
 * validates it, checks the slots and starts a LocalJob); the launch is done as soon as that job
 * runs. The module's own `await env.execute()` keeps waiting inside this process for the job's
 * end, as it would under `weir run`.
 *
 * The launch context (overrides, job module, process.argv) and the executor are process-global
 * while a module is imported, so two launches must not overlap: the caller serialises them.
 * Only the first execute() of a module becomes a cluster job; afterwards the previous executor
 * is back in place.
 */
import { pathToFileURL } from 'node:url';
import { executionRegistry, setLaunchContext, type Pipeline, type PipelineExecutor } from '../api/execution-context.ts';
import type { JobClient } from '../api/job-client.ts';
import { SubmissionError } from './dispatcher-errors.ts';

export interface LaunchRequest<T extends { readonly client: JobClient }> {
  /** The stored module's path on this machine. */
  readonly path: string;
  /** The file name as submitted, for messages. */
  readonly fileName: string;
  readonly args: readonly string[];
  readonly overrides: Record<string, unknown>;
  /** Starts the job of the module's first execute(); its rejection is the launch's. */
  readonly start: (pipeline: Pipeline) => Promise<T>;
}

/** Imports the module with the launcher's executor in place; resolves with what `start` made. */
export function launchJobModule<T extends { readonly client: JobClient }>(r: LaunchRequest<T>): Promise<T> {
  const url = pathToFileURL(r.path).href;
  let started!: (job: T) => void;
  let failed!: (e: unknown) => void;
  const outcome = new Promise<T>((res, rej) => {
    started = res;
    failed = rej;
  });
  let claimed = false;
  const executor: PipelineExecutor = {
    execute: async (pipeline: Pipeline): Promise<JobClient> => {
      if (claimed) throw new Error('only the first env.execute() of a job module submitted to a cluster becomes a cluster job');
      claimed = true;
      try {
        const job = await r.start(pipeline);
        started(job);
        return job.client;
      } catch (e) {
        failed(e);
        throw e;
      }
    },
  };

  const registry = executionRegistry();
  const saved = { executor: registry.executor, executeCalls: registry.executeCalls };
  // Ordinal 0 for the module's first execute(): workers pick the call with the launcher's ordinal.
  registry.executeCalls = 0;
  registry.executor = executor;
  const restoreLaunch = setLaunchContext({ jobModule: url, jobPath: r.path, args: r.args, overrides: r.overrides });
  // The import stays pending while the job runs (the module awaits execute()); a rejection
  // after the job started is the job's own end, reported through the job, not here.
  import(url).then(
    () => failed(new SubmissionError(`${r.fileName} did not call env.execute(): a job module builds its pipeline and then awaits env.execute(name)`)),
    (e: unknown) => failed(e),
  );
  return outcome.finally(() => {
    registry.executor = saved.executor;
    registry.executeCalls = saved.executeCalls;
    restoreLaunch();
  });
}

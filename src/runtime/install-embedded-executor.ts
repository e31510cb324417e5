/**
 * Makes the embedded executor the process's executor unless one is registered already (a worker
 * or a cluster client registers its own first). Imported for this effect by the package entry
 * and by every process entry that runs jobs in-process, so `env.execute()` has something to call.
 *
 * The executor's modules (the local job, its attempts, checkpoint coordination) load on the first
 * execute(), not with the package entry: a slot worker imports the package for the job's API but
 * registers an executor of its own, so it never loads them.
 */
import type { JobClient } from '../api/job-client.ts';
import { executionRegistry, type Pipeline, type PipelineExecutor } from '../api/execution-context.ts';

class LazyEmbeddedExecutor implements PipelineExecutor {
  #executor: Promise<PipelineExecutor> | undefined;

  async execute(pipeline: Pipeline): Promise<JobClient> {
    this.#executor ??= import('./embedded-executor.ts').then((m) => new m.EmbeddedExecutor());
    return (await this.#executor).execute(pipeline);
  }
}

const registry = executionRegistry();
registry.executor ??= new LazyEmbeddedExecutor();

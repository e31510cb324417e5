/**
 * The seam between the API and whatever runs jobs. The API layer knows only this interface; the
 * runtime registers an executor when weir is loaded. In a worker thread the runtime registers an
 * executor that captures the re-built pipeline instead of starting a job (see docs/architecture.md,
 * "Getting user code into workers").
 *
 * The registry lives on globalThis under a registered symbol, so that two copies of the module
 * (e.g. reached through different paths) still share one executor.
 */
import type { Configuration } from './configuration.ts';
import type { JobClient } from './job-client.ts';
import type { Transformation } from './transformation.ts';

export interface Pipeline {
  readonly jobName: string;
  readonly transformations: readonly Transformation[];
  readonly config: Configuration;
  /** Ordinal of this execute() call within the job module (0 for the first). */
  readonly ordinal: number;
}

export interface PipelineExecutor {
  execute(pipeline: Pipeline): Promise<JobClient>;
}

interface ExecutionRegistry {
  executor: PipelineExecutor | undefined;
  /** Counts execute() calls so that a worker picks the same one as the launcher. */
  executeCalls: number;
  /** Options the launcher (CLI, test harness) imposes on every job, e.g. `-p`. */
  overrides: Record<string, unknown>;
  /** The module that builds the job, re-imported by workers; defaults to the main script. */
  jobModule: string | undefined;
  /** The job's arguments as workers see them in process.argv.slice(2); defaults to this process's. */
  jobArgs: string[] | undefined;
}

const KEY = Symbol.for('weir.execution-registry');

export function executionRegistry(): ExecutionRegistry {
  const g = globalThis as { [KEY]?: ExecutionRegistry };
  g[KEY] ??= { executor: undefined, executeCalls: 0, overrides: {}, jobModule: undefined, jobArgs: undefined };
  return g[KEY];
}

export function setPipelineExecutor(executor: PipelineExecutor): void {
  executionRegistry().executor = executor;
}

/**
 * Makes this process the launcher of a job module, as `weir run` does: the options it imposes,
 * the module workers re-import, and the arguments the job sees as process.argv.slice(2).
 * Returns a function that puts the previous launch context back.
 */
export function setLaunchContext(launch: {
  readonly jobModule: string;
  readonly jobPath: string;
  readonly args: readonly string[];
  readonly overrides: Record<string, unknown>;
}): () => void {
  const registry = executionRegistry();
  const saved = { overrides: registry.overrides, jobModule: registry.jobModule, jobArgs: registry.jobArgs, argv: process.argv };
  registry.overrides = launch.overrides;
  registry.jobModule = launch.jobModule;
  registry.jobArgs = [...launch.args];
  process.argv = [process.argv[0]!, launch.jobPath, ...launch.args];
  return () => {
    registry.overrides = saved.overrides;
    registry.jobModule = saved.jobModule;
    registry.jobArgs = saved.jobArgs;
    process.argv = saved.argv;
  };
}

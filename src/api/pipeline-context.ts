/**
 * What a DataStream needs from the environment it was created on: ids for new nodes, a place to
 * register physical nodes, the default parallelism, and a way to run the pipeline. The
 * environment implements it; streams depend on this interface rather than on the environment
 * class, so the two modules do not import each other.
 */

import type { JobExecutionResult } from './job-client.ts';
import type { PhysicalTransformation, Transformation } from './transformation.ts';

export interface PipelineContext {
  getParallelism(): number;
  execute(jobName?: string): Promise<JobExecutionResult>;
  /** @internal A fresh node id, unique within this pipeline. */
  _nextId(): number;
  /** @internal Registers a physical node, e.g. a sink. */
  _addTransformation(t: PhysicalTransformation): void;
  /** @internal Registers a stream's physical node so it runs even without a sink. */
  _add<S extends { readonly transformation: Transformation }>(stream: S): S;
}

/**
 * The runtime's operator contract. An operator receives records, watermarks and watermark
 * status from its task (or from the operator before it in a chain) and emits to an Output.
 * Only `processElement` is required; the other hooks have forwarding defaults.
 */
import type { Configuration } from '../../api/configuration.ts';
import type { StreamNode } from '../../graph/job-graph.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { OperatorStateBackend } from '../../state/operator-state-backend.ts';
import type { Scheduler } from '../time.ts';

export interface Output {
  collect(value: unknown, timestamp: number): void;
  collectSide(tag: string, value: unknown, timestamp: number): void;
  emitWatermark(watermark: number): void;
  emitWatermarkStatus(idle: boolean): void;
}

/** What the task gives each operator of its chain. */
export interface OperatorContext {
  readonly node: StreamNode;
  readonly jobId: string;
  readonly taskName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly attemptNumber: number;
  readonly config: Configuration;
  /** Callbacks run as task mails: never in the middle of processing a record, never while the task waits on a sink. */
  readonly scheduler: Scheduler;
  /** Keyed state of this operator; undefined when the operator is not keyed. */
  readonly keyedBackend: KeyedStateBackend | undefined;
  readonly operatorStateBackend: OperatorStateBackend;
  /** Stops the task from processing input until the promise settles; a rejection fails the task. */
  suspendUntil(promise: PromiseLike<unknown>): void;
  /** Writes a line to the job's stdout or stderr. */
  print(line: string, stderr: boolean): void;
  /** Hands records to the client of an executeAndCollect() job. */
  collect(collectId: string, values: unknown[]): void;
  /** The instance of a user function object this subtask runs (see Slot: functions are never shared between subtasks). */
  userFunction<F extends object>(fn: F): F;
}

export abstract class StreamOperator {
  output!: Output;
  constructor(readonly ctx: OperatorContext) {}

  open(): void | Promise<void> {}
  abstract processElement(value: unknown, timestamp: number, input: 0 | 1): void;
  processWatermark(watermark: number): void {
    this.output.emitWatermark(watermark);
  }
  processWatermarkStatus(idle: boolean): void {
    this.output.emitWatermarkStatus(idle);
  }
  /** End of all input: flush what is buffered. Called head to tail along the chain. */
  finish(): void | Promise<void> {}
  close(): void | Promise<void> {}

  /** Sets the current key from the record when the operator is keyed. */
  protected setKeyFromElement(value: unknown, input: 0 | 1): void {
    const selector = this.ctx.node.keySelectors[input];
    if (selector !== undefined) this.ctx.keyedBackend!.setCurrentKey(selector(value));
  }
}

/** Attaches the operator's name to an error thrown by user code, once (innermost wins). */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    readonly operatorName: string,
    readonly subtaskIndex: number,
    readonly parallelism: number,
    cause: unknown,
  ) {
    super(`${operatorName} (${subtaskIndex + 1}/${parallelism}) failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export function tagError(e: unknown, ctx: OperatorContext): OperatorError {
  return e instanceof OperatorError ? e : new OperatorError(ctx.node.name, ctx.subtaskIndex, ctx.parallelism, e);
}

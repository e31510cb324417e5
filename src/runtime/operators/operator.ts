/**
 * The runtime's operator contract. An operator receives records, watermarks and watermark
 * status from its task (or from the operator before it in a chain) and emits to an Output.
 * Only `processElement` is required; the other hooks have forwarding defaults.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { Configuration } from '../../api/configuration.ts';
import type { MetricGroup } from '../../api/metrics.ts';
import type { StreamNode } from '../../graph/job-graph.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { OperatorStateBackend } from '../../state/operator-state-backend.ts';
import type { Scheduler } from '../../core/time.ts';
import type { TimerSnapshotSet, RestoredTimer } from '../timer-service.ts';
import { describeKey } from '../../state/heap/heap-state-messages.ts';

/** Operator-owned state beyond the state backends, copied in the synchronous part of a snapshot. */
export interface OperatorExtras {
  /** Keyed timers (a copy, unaffected by later changes); written with the keyed state, split by key group on restore. */
  readonly timers?: TimerSnapshotSet<unknown>;
  /** The operator's current watermark, so event time never goes back after a restore. */
  readonly watermark?: number;
}

/** What an operator gets back on restore (after open). */
export interface RestoredExtras {
  readonly timers: readonly RestoredTimer<unknown>[];
  readonly watermark: number | undefined;
}

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
  /** Whether this operator's state was restored from a checkpoint or savepoint (FunctionInitializationContext.isRestored). */
  readonly restored: boolean;
  /** The id of the checkpoint or savepoint the job restored, when it did. */
  readonly restoredCheckpointId: number | undefined;
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
  /** This operator's metric group (scope `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>.<operator_name>`). */
  readonly metricGroup: MetricGroup;
  /** The instance of a user function object this subtask runs (see Slot: functions are never shared between subtasks). */
  userFunction<F extends object>(fn: F): F;
}

/** How many records keyed with a carried group and a selected key pass between two checks of that group. */
const KEY_CHECK_EVERY = 1023;

function nondeterministicKey(operator: string, key: unknown, own: number, carried: number): Error {
  return new Error(
    `keyBy in "${operator}": the key selector returned ${describeKey(key)} (key group ${own}) for a record that its partitioner, ` +
      `applying the same selector, had sent to key group ${carried}; a key selector must return the same key for the same record ` +
      '(no randomness, clocks or mutable state)',
  );
}

/** `StreamOperator.elementKey` when the key of the record is not known. */
export const NO_KEY: unique symbol = Symbol('no key');

export abstract class StreamOperator {
  output!: Output;
  /**
   * Set by the task's input before it hands the head operator a record that came through a
   * keyBy edge: the key group its partitioner computed (-1: not known), and its key where the
   * record came from the same thread (NO_KEY: not known). setKeyFromElement uses them instead of
   * selecting and hashing the key again. Never set for operators further down a chain.
   */
  elementKeyGroup = -1;
  elementKey: unknown = NO_KEY;
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
  /**
   * After the job's final checkpoint completed, before the task ends: what must be done before
   * closing (a sink's commits still waiting to be retried). Awaited directly, not as a suspension,
   * so the task's timers keep firing meanwhile.
   */
  beforeEnd(): void | Promise<void> {}
  close(): void | Promise<void> {}

  // ---- checkpoints (defaults: nothing to do) ---------------------------------------------------

  /** Before the barrier goes downstream: emit or flush what belongs before it (Flink's prepareSnapshotPreBarrier). */
  prepareSnapshotPreBarrier(_checkpointId: CheckpointId): void {}
  /**
   * User functions' snapshotState (CheckpointedFunction). Runs in the synchronous part of the
   * snapshot; a returned promise keeps the task suspended until it settles.
   */
  snapshotFunctionState(_checkpointId: CheckpointId, _timestamp: number): void | Promise<void> {}
  /** Timers and watermark, copied now (the synchronous part of the snapshot). */
  snapshotExtras(): OperatorExtras | undefined {
    return undefined;
  }
  /** Restores what snapshotExtras() captured; called after open(). */
  restoreExtras(_extras: RestoredExtras): void {}
  notifyCheckpointComplete(_checkpointId: CheckpointId): void | Promise<void> {}
  notifyCheckpointAborted(_checkpointId: CheckpointId): void | Promise<void> {}

  /** Records keyed with a carried key group and a key selected again, until the next check. */
  #unchecked = 0;

  /** Sets the current key from the record when the operator is keyed. */
  protected setKeyFromElement(value: unknown, input: 0 | 1): void {
    const selector = this.ctx.node.keySelectors[input];
    if (selector === undefined) return;
    const backend = this.ctx.keyedBackend!;
    const keyGroup = this.elementKeyGroup;
    if (keyGroup < 0 || backend.setCurrentKeyInGroup === undefined) {
      backend.setCurrentKey(selector(value));
      return;
    }
    const carried = this.elementKey;
    if (carried !== NO_KEY) {
      backend.setCurrentKeyInGroup(carried, keyGroup);
      return;
    }
    const key = selector(value);
    if (--this.#unchecked >= 0) {
      backend.setCurrentKeyInGroup(key, keyGroup);
      return;
    }
    // Now and then the key selected here is hashed as well: a selector that does not return the
    // same key for the same record would otherwise file state under the partitioner's group
    // silently (without this, such keys are caught only when their group is another subtask's).
    this.#unchecked = KEY_CHECK_EVERY;
    backend.setCurrentKey(key);
    const own = backend.getCurrentKeyGroup();
    if (own !== keyGroup) throw nondeterministicKey(this.ctx.node.name, key, own, keyGroup);
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

/**
 * Hosting of user functions: runtime context, lifecycle (setRuntimeContext → initializeState →
 * open … close) and the keyed/operator state stores they reach through it.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type {
  FunctionInitializationContext,
  FunctionSnapshotContext,
  KeyedStateStore,
  OperatorStateStore,
  RuntimeContext,
} from '../../api/functions.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../api/state.ts';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.ts';
import type { OperatorContext } from './operator.ts';
import { StreamOperator } from './operator.ts';

function keyedOnly(ctx: OperatorContext, api: string): KeyedStateBackend {
  if (!ctx.keyedBackend) {
    throw new Error(
      `${api} in "${ctx.node.name}": keyed state can only be used on a keyed stream, i.e. in an operator directly after keyBy()`,
    );
  }
  return ctx.keyedBackend;
}

export function keyedStateStore(ctx: OperatorContext): KeyedStateStore {
  return {
    getState: <T>(d: ValueStateDescriptor<T>) => keyedOnly(ctx, 'getState').getValueState(d),
    getListState: <T>(d: ListStateDescriptor<T>) => keyedOnly(ctx, 'getListState').getListState(d),
    getMapState: <UK, UV>(d: MapStateDescriptor<UK, UV>) => keyedOnly(ctx, 'getMapState').getMapState(d),
    getReducingState: <T>(d: ReducingStateDescriptor<T>) => keyedOnly(ctx, 'getReducingState').getReducingState(d),
    getAggregatingState: <IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>) =>
      keyedOnly(ctx, 'getAggregatingState').getAggregatingState(d),
  };
}

export function createRuntimeContext(ctx: OperatorContext): RuntimeContext {
  return {
    getJobId: () => ctx.jobId,
    getTaskName: () => ctx.taskName,
    getIndexOfThisSubtask: () => ctx.subtaskIndex,
    getNumberOfParallelSubtasks: () => ctx.parallelism,
    getMaxNumberOfParallelSubtasks: () => ctx.maxParallelism,
    getAttemptNumber: () => ctx.attemptNumber,
    isCheckpointingEnabled: () => ctx.config.get('execution.checkpointing.interval') !== undefined,
    getMetricGroup: () => ctx.metricGroup,
    ...keyedStateStore(ctx),
  };
}

function operatorStateStore(ctx: OperatorContext): OperatorStateStore {
  return {
    getListState: (d) => ctx.operatorStateBackend.getListState(d),
    getUnionListState: (d) => ctx.operatorStateBackend.getUnionListState(d),
  };
}

interface Lifecycle {
  setRuntimeContext?(c: RuntimeContext): void;
  initializeState?(c: FunctionInitializationContext): void | Promise<void>;
  snapshotState?(c: FunctionSnapshotContext): void | Promise<void>;
  notifyCheckpointComplete?(checkpointId: CheckpointId): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: CheckpointId): void | Promise<void>;
  open?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** Opens a user function the way Flink does: context first, then state, then open(). */
export async function openFunction(fn: object, ctx: OperatorContext): Promise<void> {
  const f = fn as Lifecycle;
  f.setRuntimeContext?.(createRuntimeContext(ctx));
  if (typeof f.initializeState === 'function') {
    await f.initializeState({
      isRestored: () => ctx.restored,
      getOperatorStateStore: () => operatorStateStore(ctx),
      getKeyedStateStore: () => (ctx.keyedBackend ? keyedStateStore(ctx) : undefined),
    });
  }
  if (typeof f.open === 'function') await f.open();
}

/** CheckpointedFunction.snapshotState, when the function has one. */
export function snapshotFunction(fn: object, checkpointId: CheckpointId, timestamp: number): void | Promise<void> {
  const f = fn as Lifecycle;
  if (typeof f.snapshotState !== 'function') return;
  return f.snapshotState({ getCheckpointId: () => checkpointId, getCheckpointTimestamp: () => timestamp });
}

/** CheckpointListener callbacks, when the function has them. */
export function notifyFunction(fn: object, checkpointId: CheckpointId, completed: boolean): void | Promise<void> {
  const f = fn as Lifecycle;
  if (completed) return typeof f.notifyCheckpointComplete === 'function' ? f.notifyCheckpointComplete(checkpointId) : undefined;
  return typeof f.notifyCheckpointAborted === 'function' ? f.notifyCheckpointAborted(checkpointId) : undefined;
}

export async function closeFunction(fn: object): Promise<void> {
  const f = fn as Lifecycle;
  if (typeof f.close === 'function') await f.close();
}

/** An operator that hosts one user function object (its subtask's own instance). */
export abstract class UdfOperator<F extends object> extends StreamOperator {
  readonly fn: F;
  constructor(ctx: OperatorContext, fn: F) {
    super(ctx);
    this.fn = ctx.userFunction(fn);
  }
  override async open(): Promise<void> {
    await openFunction(this.fn, this.ctx);
  }
  override async close(): Promise<void> {
    await closeFunction(this.fn);
  }
  override snapshotFunctionState(checkpointId: CheckpointId, timestamp: number): void | Promise<void> {
    return snapshotFunction(this.fn, checkpointId, timestamp);
  }
  override notifyCheckpointComplete(checkpointId: CheckpointId): void | Promise<void> {
    return notifyFunction(this.fn, checkpointId, true);
  }
  override notifyCheckpointAborted(checkpointId: CheckpointId): void | Promise<void> {
    return notifyFunction(this.fn, checkpointId, false);
  }
}

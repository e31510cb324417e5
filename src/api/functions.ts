/**
 * User function interfaces, named and shaped as Flink's. Each can be given as a plain function
 * (where Flink has a single abstract method) or as an object/class instance. Classes that extend
 * one of the `Rich*` bases get `open()`, `close()` and `getRuntimeContext()`.
 */
import type {
  AggregateFunction,
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReducingState,
  ReducingStateDescriptor,
  ValueState,
  ValueStateDescriptor,
} from './state.ts';
import type { MetricGroup } from './metrics.ts';

/** Receives a function's output records. */
export interface Collector<T> {
  collect(value: T): void;
}

/** Names a side output; the id must be unique within a job. */
export class OutputTag<T> {
  declare readonly __type?: T;
  constructor(readonly id: string) {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('an OutputTag needs a non-empty id');
  }
}

/** What a function can learn about the parallel instance that runs it, and its keyed state. */
export interface RuntimeContext extends KeyedStateStore {
  getJobId(): string;
  getTaskName(): string;
  getIndexOfThisSubtask(): number;
  getNumberOfParallelSubtasks(): number;
  getMaxNumberOfParallelSubtasks(): number;
  /** 0 on the first run, increased by one on every restart. */
  getAttemptNumber(): number;
  /** Whether the job takes periodic checkpoints (Flink's StreamingRuntimeContext.isCheckpointingEnabled). */
  isCheckpointingEnabled(): boolean;
  /** The metric group of this operator's parallel instance: register metrics here, at open. */
  getMetricGroup(): MetricGroup;
}

/** Operator (non-keyed) state of one parallel instance. */
export interface OperatorStateStore {
  /** Redistributed on rescaling by splitting the combined list evenly. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Every instance receives the whole combined list on restore. */
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
}

export interface KeyedStateStore {
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

export interface FunctionInitializationContext {
  /** True when the state was restored from a checkpoint or savepoint. */
  isRestored(): boolean;
  getOperatorStateStore(): OperatorStateStore;
  /** Undefined on non-keyed streams. */
  getKeyedStateStore(): KeyedStateStore | undefined;
}

export interface FunctionSnapshotContext {
  getCheckpointId(): number;
  getCheckpointTimestamp(): number;
}

/** A function whose operator state takes part in checkpoints. */
export interface CheckpointedFunction {
  initializeState(context: FunctionInitializationContext): void | Promise<void>;
  snapshotState(context: FunctionSnapshotContext): void | Promise<void>;
}

/** Told when a checkpoint the function took part in completed or was aborted. */
export interface CheckpointListener {
  notifyCheckpointComplete(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

/** Lifecycle shared by every rich function. */
export interface RichFunctionLike {
  open?(): void | Promise<void>;
  close?(): void | Promise<void>;
  setRuntimeContext?(context: RuntimeContext): void;
}

/**
 * Kept under a symbol rather than a #private field: in inline mode each parallel instance of a
 * function may be a copy of the object the pipeline was built with, and #private fields do not
 * carry over to copies.
 */
const CONTEXT = Symbol('weir.runtimeContext');

/** Base of every rich function: lifecycle hooks and access to the runtime context. */
export abstract class AbstractRichFunction implements RichFunctionLike {
  [CONTEXT]: RuntimeContext | undefined;

  /** Called by the runtime before the first record. */
  setRuntimeContext(context: RuntimeContext): void {
    this[CONTEXT] = context;
  }

  /** The context of the parallel instance running this function; available from `open()` on. */
  getRuntimeContext(): RuntimeContext {
    const context = this[CONTEXT];
    if (!context) {
      throw new Error(`${this.constructor.name}.getRuntimeContext() called before open(): the runtime context is set when the job runs`);
    }
    return context;
  }

  open(): void | Promise<void> {}
  close(): void | Promise<void> {}
}

// ---- one-input functions --------------------------------------------------------------------

export interface MapFunction<I, O> {
  map(value: I): O;
}
export interface FilterFunction<T> {
  filter(value: T): boolean;
}
export interface FlatMapFunction<I, O> {
  flatMap(value: I, out: Collector<O>): void;
}
export interface ReduceFunction<T> {
  reduce(a: T, b: T): T;
}
export type KeySelector<T, K> = (value: T) => K;

export abstract class RichMapFunction<I, O> extends AbstractRichFunction implements MapFunction<I, O> {
  abstract map(value: I): O;
}
export abstract class RichFilterFunction<T> extends AbstractRichFunction implements FilterFunction<T> {
  abstract filter(value: T): boolean;
}
export abstract class RichFlatMapFunction<I, O> extends AbstractRichFunction implements FlatMapFunction<I, O> {
  abstract flatMap(value: I, out: Collector<O>): void;
}

/** Access to time from inside process functions. */
export interface TimerService {
  currentProcessingTime(): number;
  /** -Infinity before the first watermark. */
  currentWatermark(): number;
  registerProcessingTimeTimer(time: number): void;
  registerEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
}

export interface ProcessContext {
  /** The current record's timestamp, or undefined when it has none. */
  timestamp(): number | undefined;
  timerService(): TimerService;
  output<X>(tag: OutputTag<X>, value: X): void;
}

export interface KeyedProcessContext<K> extends ProcessContext {
  getCurrentKey(): K;
}

export type TimeDomainName = 'EVENT_TIME' | 'PROCESSING_TIME';

export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  timeDomain(): TimeDomainName;
}

/** Low-level processing of a (non-keyed) stream. Timers need a keyed stream. */
export abstract class ProcessFunction<I, O> extends AbstractRichFunction {
  abstract processElement(value: I, ctx: ProcessContext, out: Collector<O>): void;
}

/** Processing of a keyed stream, with keyed state and timers. */
export abstract class KeyedProcessFunction<K, I, O> extends AbstractRichFunction {
  abstract processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

// ---- two-input functions --------------------------------------------------------------------

export interface CoMapFunction<I1, I2, O> {
  map1(value: I1): O;
  map2(value: I2): O;
}
export interface CoFlatMapFunction<I1, I2, O> {
  flatMap1(value: I1, out: Collector<O>): void;
  flatMap2(value: I2, out: Collector<O>): void;
}
export abstract class RichCoMapFunction<I1, I2, O> extends AbstractRichFunction implements CoMapFunction<I1, I2, O> {
  abstract map1(value: I1): O;
  abstract map2(value: I2): O;
}
export abstract class RichCoFlatMapFunction<I1, I2, O>
  extends AbstractRichFunction
  implements CoFlatMapFunction<I1, I2, O>
{
  abstract flatMap1(value: I1, out: Collector<O>): void;
  abstract flatMap2(value: I2, out: Collector<O>): void;
}
export abstract class CoProcessFunction<I1, I2, O> extends AbstractRichFunction {
  abstract processElement1(value: I1, ctx: ProcessContext, out: Collector<O>): void;
  abstract processElement2(value: I2, ctx: ProcessContext, out: Collector<O>): void;
}
export abstract class KeyedCoProcessFunction<K, I1, I2, O> extends AbstractRichFunction {
  abstract processElement1(value: I1, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  abstract processElement2(value: I2, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

// ---- sources and sinks ----------------------------------------------------------------------

/**
 * Handed to `SourceFunction.run`. `collect` is synchronous; it returns a promise when the source
 * should pause (downstream backpressure, or time to let checkpoints, timers and cancellation
 * run). A source that awaits what `collect` returns is backpressured and cooperative; a source
 * that never awaits anything starves its thread.
 */
export interface SourceContext<T> {
  collect(value: T): void | Promise<void>;
  collectWithTimestamp(value: T, timestamp: number): void | Promise<void>;
  emitWatermark(watermark: number): void;
  markAsTemporarilyIdle(): void;
}

/** A source driven by its own loop (Flink's legacy SourceFunction): runs until it returns or is cancelled. */
export interface SourceFunction<T> {
  run(ctx: SourceContext<T>): void | Promise<void>;
  cancel(): void;
}

/** A SourceFunction that may run with parallelism above 1: every instance runs `run`. */
export abstract class RichParallelSourceFunction<T> extends AbstractRichFunction implements SourceFunction<T> {
  static readonly parallel = true;
  abstract run(ctx: SourceContext<T>): void | Promise<void>;
  abstract cancel(): void;
}

/** A non-parallel SourceFunction with the rich lifecycle. */
export abstract class RichSourceFunction<T> extends AbstractRichFunction implements SourceFunction<T> {
  abstract run(ctx: SourceContext<T>): void | Promise<void>;
  abstract cancel(): void;
}

export interface SinkContext {
  /** Processing time when the record arrived at the sink. */
  currentProcessingTime(): number;
  currentWatermark(): number;
  /** The record's timestamp, or undefined. */
  timestamp(): number | undefined;
}

/** Writes records out. A returned promise is awaited before the next record (ordered, backpressured). */
export interface SinkFunction<T> {
  invoke(value: T, context: SinkContext): void | Promise<void>;
  /** Called once when the input ended (bounded jobs), before close. */
  finish?(): void | Promise<void>;
}

export abstract class RichSinkFunction<T> extends AbstractRichFunction implements SinkFunction<T> {
  abstract invoke(value: T, context: SinkContext): void | Promise<void>;
}

// ---- aggregation helpers --------------------------------------------------------------------
export type { AggregateFunction };

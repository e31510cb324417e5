/**
 * Public state API: descriptors name a piece of state, state objects read and write it.
 *
 * Keyed state is scoped to the key of the record (or timer) being processed; the runtime sets
 * that key before calling user code. Operator state belongs to one parallel subtask.
 * All state access is synchronous: a backend that keeps state off-heap must make the current
 * key's state readable before user code runs (see docs/architecture.md).
 */

/** Reduces two values of the same type into one (Flink's ReduceFunction). */
export type ReduceFn<T> = (a: T, b: T) => T;

/** Incremental aggregation with an accumulator (Flink's AggregateFunction). */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  merge(a: ACC, b: ACC): ACC;
}

export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';

abstract class StateDescriptorBase {
  abstract readonly kind: StateKind;
  constructor(readonly name: string) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError('a state descriptor needs a non-empty name');
    }
  }
}

/** Names a single value per key. `value()` returns `defaultValue` (or undefined) until updated. */
export class ValueStateDescriptor<T> extends StateDescriptorBase {
  readonly kind = 'value' as const;
  declare readonly __type?: T;
  constructor(name: string, readonly defaultValue?: T) {
    super(name);
  }
}

/** Names a list of values per key (keyed) or per subtask (operator list / union state). */
export class ListStateDescriptor<T> extends StateDescriptorBase {
  readonly kind = 'list' as const;
  declare readonly __type?: T;
}

/** Names a map per key. Map keys follow the same rules as stream keys (see keyBy). */
export class MapStateDescriptor<UK, UV> extends StateDescriptorBase {
  readonly kind = 'map' as const;
  declare readonly __types?: [UK, UV];
}

/** Names a value per key that `add` folds with `reduce`. */
export class ReducingStateDescriptor<T> extends StateDescriptorBase {
  readonly kind = 'reducing' as const;
  constructor(name: string, readonly reduce: ReduceFn<T>) {
    super(name);
  }
}

/** Names an accumulator per key that `add` feeds through an AggregateFunction. */
export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptorBase {
  readonly kind = 'aggregating' as const;
  constructor(name: string, readonly aggregate: AggregateFunction<IN, ACC, OUT>) {
    super(name);
  }
}

export type StateDescriptor =
  | ValueStateDescriptor<any>
  | ListStateDescriptor<any>
  | MapStateDescriptor<any, any>
  | ReducingStateDescriptor<any>
  | AggregatingStateDescriptor<any, any, any>;

/** Every state can be cleared for the current key (keyed) or the subtask (operator state). */
export interface State {
  clear(): void;
}

export interface ValueState<T> extends State {
  /** The current key's value, or the descriptor's default (undefined if none) before the first update. */
  value(): T | undefined;
  update(value: T): void;
}

export interface ListState<T> extends State {
  /** The current key's values in insertion order; an empty array when there are none. */
  get(): T[];
  add(value: T): void;
  addAll(values: Iterable<T>): void;
  /** Replaces all values. */
  update(values: Iterable<T>): void;
}

export interface MapState<UK, UV> extends State {
  get(key: UK): UV | undefined;
  put(key: UK, value: UV): void;
  putAll(entries: Iterable<readonly [UK, UV]>): void;
  remove(key: UK): void;
  contains(key: UK): boolean;
  entries(): IterableIterator<[UK, UV]>;
  keys(): IterableIterator<UK>;
  values(): IterableIterator<UV>;
  isEmpty(): boolean;
}

export interface ReducingState<T> extends State {
  /** The reduced value, or undefined when nothing was added. */
  get(): T | undefined;
  add(value: T): void;
}

export interface AggregatingState<IN, OUT> extends State {
  /** The aggregate's result, or undefined when nothing was added. */
  get(): OUT | undefined;
  add(value: IN): void;
}

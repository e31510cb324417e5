/**
 * DataStream API: fluent builders over the transformation tree. Each method adds a node and
 * returns a stream wrapping it; settings methods (`uid`, `name`, `setParallelism`, ...) change
 * the node they are called on.
 */
import type {
  CoFlatMapFunction,
  CoMapFunction,
  CoProcessFunction,
  Collector,
  FilterFunction,
  FlatMapFunction,
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  OutputTag,
  ProcessFunction,
  ReduceFunction,
  SinkFunction,
} from './functions.ts';
import type { PipelineContext } from './pipeline-context.ts';
import { isSink, type Sink } from './sink.ts';
import {
  defaultSettings,
  isPhysical,
  type OneInputSpec,
  type PartitionerSpec,
  type PhysicalTransformation,
  type SinkSpec,
  type Transformation,
  type TwoInputSpec,
} from './transformation.ts';
import type { WatermarkStrategy } from './watermark-strategy.ts';

type Fn<F, Method extends keyof F> = F | F[Method];

/** Accepts a plain function or an object with the named method; rejects a class passed uninstantiated. */
function toFunctionObject<F extends object>(fn: unknown, method: string, api: string): F {
  if (typeof fn === 'function') {
    if (fn.prototype && typeof fn.prototype[method] === 'function') {
      throw new TypeError(`${api}: got the class ${fn.name}; pass an instance (new ${fn.name}())`);
    }
    return { [method]: fn } as F;
  }
  if (fn !== null && typeof fn === 'object' && typeof (fn as Record<string, unknown>)[method] === 'function') {
    return fn as F;
  }
  throw new TypeError(`${api}: expected a function or an object with a ${method}() method, got ${describe(fn)}`);
}

function requireMethods(fn: unknown, methods: string[], api: string): void {
  if (typeof fn === 'function' && fn.prototype && methods.every((m) => typeof fn.prototype[m] === 'function')) {
    throw new TypeError(`${api}: got the class ${fn.name}; pass an instance (new ${fn.name}())`);
  }
  if (fn === null || typeof fn !== 'object' || !methods.every((m) => typeof (fn as Record<string, unknown>)[m] === 'function')) {
    throw new TypeError(`${api}: expected an object with ${methods.map((m) => m + '()').join(' and ')}, got ${describe(fn)}`);
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'function') return `function ${x.name || '(anonymous)'}`;
  if (typeof x === 'object') return `an object of class ${(x as object).constructor?.name ?? 'Object'}`;
  return typeof x;
}

function requireKeySelector(sel: unknown, api: string): KeySelector<unknown, unknown> {
  if (typeof sel !== 'function') throw new TypeError(`${api}: the key selector must be a function, got ${describe(sel)}`);
  return sel as KeySelector<unknown, unknown>;
}

/** uid() of streams and sinks: a stable operator id, unique per job. */
function setUid(t: PhysicalTransformation, uid: string): void {
  if (typeof uid !== 'string' || uid.length === 0) throw new TypeError('uid() needs a non-empty string');
  t.settings.uid = uid;
}

/** setParallelism() of streams and sinks, refusing parallelism on sources that cannot be parallel. */
function setParallelismOf(t: PhysicalTransformation, parallelism: number): void {
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new RangeError(`setParallelism on "${t.settings.name}": parallelism must be a positive integer, got ${parallelism}`);
  }
  if (t.kind === 'source' && t.source.kind === 'elements' && parallelism !== 1) {
    throw new RangeError(`setParallelism on "${t.settings.name}": fromElements/fromCollection sources are not parallel (parallelism must be 1)`);
  }
  if (t.kind === 'source' && t.source.kind === 'source-function' && !t.source.parallel && parallelism !== 1) {
    throw new RangeError(
      `setParallelism on "${t.settings.name}": this SourceFunction is not parallel; extend RichParallelSourceFunction to run it with parallelism ${parallelism}`,
    );
  }
  t.settings.parallelism = parallelism;
  t.settings.parallelismFixed = true;
}

export class DataStream<T> {
  /** @internal */
  constructor(
    readonly env: PipelineContext,
    readonly transformation: Transformation,
  ) {}

  // ---- settings of the node behind this stream -----------------------------------------------

  #physical(api: string): PhysicalTransformation {
    const t = this.transformation;
    if (!isPhysical(t)) {
      throw new Error(`${api}() must follow an operator; ${t.kind} creates none (set it on the operator before it)`);
    }
    return t;
  }

  /** A stable id for the operator, used to match its state in savepoints. Unique per job. */
  uid(uid: string): this {
    setUid(this.#physical('uid'), uid);
    return this;
  }

  name(name: string): this {
    this.#physical('name').settings.name = String(name);
    return this;
  }

  setParallelism(parallelism: number): this {
    setParallelismOf(this.#physical('setParallelism'), parallelism);
    return this;
  }

  setMaxParallelism(maxParallelism: number): this {
    const t = this.#physical('setMaxParallelism');
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) {
      throw new RangeError(`setMaxParallelism on "${t.settings.name}": must be an integer between 1 and 32768, got ${maxParallelism}`);
    }
    t.settings.maxParallelism = maxParallelism;
    return this;
  }

  /** Keeps this operator out of any chain. */
  disableChaining(): this {
    this.#physical('disableChaining').settings.chaining = 'never';
    return this;
  }

  /** Starts a new chain at this operator. */
  startNewChain(): this {
    this.#physical('startNewChain').settings.chaining = 'head';
    return this;
  }

  getParallelism(): number {
    const t = this.transformation;
    return (isPhysical(t) ? t.settings.parallelism : undefined) ?? this.env.getParallelism();
  }

  /** The records an upstream ProcessFunction emitted with `ctx.output(tag, value)`. */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return this.env._add(new DataStream<X>(this.env, { kind: 'side-output', id: this.env._nextId(), input: this.transformation, tag }));
  }

  // ---- one-input operators -------------------------------------------------------------------

  /** @internal Adds a one-input operator; on a KeyedStream it is keyed. */
  _oneInput<O>(name: string, operator: OneInputSpec): DataStream<O> {
    const keySelector = this instanceof KeyedStream ? (this.keySelector as KeySelector<unknown, unknown>) : undefined;
    return this.env._add(
      new DataStream<O>(this.env, {
        kind: 'one-input',
        id: this.env._nextId(),
        settings: defaultSettings(name),
        input: this.transformation,
        operator,
        keySelector,
      }),
    );
  }

  map<O>(fn: Fn<MapFunction<T, O>, 'map'>): DataStream<O> {
    return this._oneInput('Map', { kind: 'map', fn: toFunctionObject(fn, 'map', 'map') });
  }

  filter(fn: Fn<FilterFunction<T>, 'filter'>): DataStream<T> {
    return this._oneInput('Filter', { kind: 'filter', fn: toFunctionObject(fn, 'filter', 'filter') });
  }

  flatMap<O>(fn: Fn<FlatMapFunction<T, O>, 'flatMap'> | ((value: T, out: Collector<O>) => void)): DataStream<O> {
    return this._oneInput('Flat Map', { kind: 'flat-map', fn: toFunctionObject(fn, 'flatMap', 'flatMap') });
  }

  process<O>(fn: ProcessFunction<T, O>): DataStream<O> {
    requireMethods(fn, ['processElement'], 'process');
    return this._oneInput('Process', { kind: 'process', fn: fn as ProcessFunction<unknown, unknown> });
  }

  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): DataStream<T> {
    if (!strategy || typeof (strategy as { createWatermarkGenerator?: unknown }).createWatermarkGenerator !== 'function') {
      throw new TypeError('assignTimestampsAndWatermarks: expected a WatermarkStrategy');
    }
    return this._oneInput('Timestamps/Watermarks', { kind: 'timestamps-watermarks', strategy: strategy as WatermarkStrategy<unknown> });
  }

  // ---- partitioning --------------------------------------------------------------------------

  #partition(partitioner: PartitionerSpec): DataStream<T> {
    return new DataStream<T>(this.env, { kind: 'partition', id: this.env._nextId(), input: this.transformation, partitioner });
  }

  /** Partitions by key: records with equal keys go to the same subtask, which holds their keyed state. */
  keyBy<K>(keySelector: KeySelector<T, K>): KeyedStream<T, K> {
    const sel = requireKeySelector(keySelector, 'keyBy');
    const partitioned: Transformation = {
      kind: 'partition',
      id: this.env._nextId(),
      input: this.transformation,
      partitioner: { kind: 'hash', keySelector: sel },
    };
    return new KeyedStream<T, K>(this.env, partitioned, keySelector);
  }

  forward(): DataStream<T> {
    return this.#partition({ kind: 'forward' });
  }
  rebalance(): DataStream<T> {
    return this.#partition({ kind: 'rebalance' });
  }
  rescale(): DataStream<T> {
    return this.#partition({ kind: 'rescale' });
  }
  broadcast(): DataStream<T> {
    return this.#partition({ kind: 'broadcast' });
  }
  shuffle(): DataStream<T> {
    return this.#partition({ kind: 'shuffle' });
  }
  global(): DataStream<T> {
    return this.#partition({ kind: 'global' });
  }

  // ---- multiple inputs -----------------------------------------------------------------------

  union(...others: DataStream<T>[]): DataStream<T> {
    for (const o of others) {
      if (!(o instanceof DataStream) || o.env !== this.env) {
        throw new TypeError('union: every stream must be a DataStream of the same environment');
      }
    }
    return new DataStream<T>(this.env, {
      kind: 'union',
      id: this.env._nextId(),
      inputs: [this.transformation, ...others.map((o) => o.transformation)],
    });
  }

  connect<T2>(other: DataStream<T2>): ConnectedStreams<T, T2> {
    if (!(other instanceof DataStream) || other.env !== this.env) {
      throw new TypeError('connect: the other stream must be a DataStream of the same environment');
    }
    return new ConnectedStreams<T, T2>(this.env, this, other);
  }

  // ---- sinks ---------------------------------------------------------------------------------

  #sink(name: string, sink: SinkSpec): DataStreamSink<T> {
    const t: PhysicalTransformation = {
      kind: 'sink',
      id: this.env._nextId(),
      settings: defaultSettings(name),
      input: this.transformation,
      sink,
    };
    this.env._addTransformation(t);
    return new DataStreamSink<T>(this.env, t);
  }

  /** Writes every record to stdout as `prefix:subtask> value` (`prefix> value` at parallelism 1). */
  print(prefix?: string): DataStreamSink<T> {
    return this.#sink('Print to Std. Out', { kind: 'print', prefix, stderr: false });
  }

  printToErr(prefix?: string): DataStreamSink<T> {
    return this.#sink('Print to Std. Err', { kind: 'print', prefix, stderr: true });
  }

  addSink(fn: Fn<SinkFunction<T>, 'invoke'>): DataStreamSink<T> {
    return this.#sink('Unnamed', { kind: 'sink-function', fn: toFunctionObject(fn, 'invoke', 'addSink') });
  }

  /**
   * Writes to a Sink (api/sink.ts: writers, and committers for two-phase sinks whose committables
   * are kept in checkpoints), or to a SinkFunction object (the contract of addSink).
   */
  sinkTo<CommT, WriterStateT>(sink: Sink<T, CommT, WriterStateT> | SinkFunction<T>): DataStreamSink<T> {
    const name = (sink as object).constructor?.name ?? 'Sink';
    if (isSink(sink)) return this.#sink(name === 'Object' ? 'Sink' : name, { kind: 'sink-writer', sink: sink as Sink<unknown, unknown, unknown> });
    requireMethods(sink, ['invoke'], 'sinkTo');
    return this.#sink(name, { kind: 'sink-function', fn: sink as SinkFunction<unknown> });
  }

  /** Runs the job and returns every record of this stream (bounded jobs). */
  async executeAndCollect(jobName = 'Collect job'): Promise<T[]> {
    const collectId = `collect-${this.env._nextId()}`;
    // One collecting instance, as in Flink, so records of a parallelism-1 stream keep their order.
    this.#sink('Collect Sink', { kind: 'collect', collectId }).setParallelism(1);
    const result = await this.env.execute(jobName);
    return ((result as unknown as { collected?: Map<string, unknown[]> }).collected?.get(collectId) ?? []) as T[];
  }
}

export class KeyedStream<T, K> extends DataStream<T> {
  /** @internal */
  constructor(
    env: PipelineContext,
    transformation: Transformation,
    readonly keySelector: KeySelector<T, K>,
  ) {
    super(env, transformation);
  }

  override process<O>(fn: KeyedProcessFunction<K, T, O> | ProcessFunction<T, O>): DataStream<O> {
    requireMethods(fn, ['processElement'], 'process');
    return this._oneInput('KeyedProcess', { kind: 'keyed-process', fn: fn as KeyedProcessFunction<unknown, unknown, unknown> });
  }

  /** Emits, per record, the running reduction of all records with its key. */
  reduce(fn: Fn<ReduceFunction<T>, 'reduce'>): DataStream<T> {
    return this._oneInput('Keyed Reduce', { kind: 'aggregate', aggregation: { kind: 'reduce', fn: toFunctionObject(fn, 'reduce', 'reduce') } });
  }

  /** Running sum of a field (object key, tuple index, or the record itself when it is a number). */
  sum(field?: string | number): DataStream<T> {
    return this._oneInput('Keyed Aggregation', { kind: 'aggregate', aggregation: { kind: 'sum', field } });
  }
  min(field?: string | number): DataStream<T> {
    return this._oneInput('Keyed Aggregation', { kind: 'aggregate', aggregation: { kind: 'min', field } });
  }
  max(field?: string | number): DataStream<T> {
    return this._oneInput('Keyed Aggregation', { kind: 'aggregate', aggregation: { kind: 'max', field } });
  }
}

export class ConnectedStreams<T1, T2> {
  /** @internal */
  constructor(
    readonly env: PipelineContext,
    readonly first: DataStream<T1>,
    readonly second: DataStream<T2>,
  ) {}

  /** Partitions both inputs by key so a KeyedCoProcessFunction sees both sides of a key together. */
  keyBy<K>(keySelector1: KeySelector<T1, K>, keySelector2: KeySelector<T2, K>): ConnectedStreams<T1, T2> {
    return new ConnectedStreams(this.env, this.first.keyBy(keySelector1), this.second.keyBy(keySelector2));
  }

  #twoInput<O>(name: string, operator: TwoInputSpec): DataStream<O> {
    const k1 = this.first instanceof KeyedStream ? (this.first.keySelector as KeySelector<unknown, unknown>) : undefined;
    const k2 = this.second instanceof KeyedStream ? (this.second.keySelector as KeySelector<unknown, unknown>) : undefined;
    if ((k1 === undefined) !== (k2 === undefined)) {
      throw new Error(`${name}: either both connected streams are keyed or neither is`);
    }
    return this.env._add(
      new DataStream<O>(this.env, {
        kind: 'two-input',
        id: this.env._nextId(),
        settings: defaultSettings(name),
        input1: this.first.transformation,
        input2: this.second.transformation,
        operator,
        keySelector1: k1,
        keySelector2: k2,
      }),
    );
  }

  map<O>(fn: CoMapFunction<T1, T2, O>): DataStream<O> {
    requireMethods(fn, ['map1', 'map2'], 'connect().map');
    return this.#twoInput('Co-Map', { kind: 'co-map', fn: fn as CoMapFunction<unknown, unknown, unknown> });
  }

  flatMap<O>(fn: CoFlatMapFunction<T1, T2, O>): DataStream<O> {
    requireMethods(fn, ['flatMap1', 'flatMap2'], 'connect().flatMap');
    return this.#twoInput('Co-Flat Map', { kind: 'co-flat-map', fn: fn as CoFlatMapFunction<unknown, unknown, unknown> });
  }

  process<O>(fn: CoProcessFunction<T1, T2, O> | KeyedCoProcessFunction<any, T1, T2, O>): DataStream<O> {
    requireMethods(fn, ['processElement1', 'processElement2'], 'connect().process');
    const keyed = this.first instanceof KeyedStream;
    return keyed
      ? this.#twoInput('KeyedCo-Process', { kind: 'keyed-co-process', fn: fn as KeyedCoProcessFunction<unknown, unknown, unknown, unknown> })
      : this.#twoInput('Co-Process', { kind: 'co-process', fn: fn as CoProcessFunction<unknown, unknown, unknown> });
  }
}

/** The end of a pipeline; carries the sink's settings. */
export class DataStreamSink<T> {
  declare readonly __type?: T;
  /** @internal */
  constructor(
    readonly env: PipelineContext,
    readonly transformation: PhysicalTransformation,
  ) {}

  uid(uid: string): this {
    setUid(this.transformation, uid);
    return this;
  }
  name(name: string): this {
    this.transformation.settings.name = String(name);
    return this;
  }
  setParallelism(parallelism: number): this {
    setParallelismOf(this.transformation, parallelism);
    return this;
  }
  disableChaining(): this {
    this.transformation.settings.chaining = 'never';
    return this;
  }
}

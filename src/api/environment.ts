/**
 * The entry point of every job: configure, add sources, build the pipeline, then `execute`.
 *
 * A job is a module that builds its pipeline on `getExecutionEnvironment()` and awaits
 * `env.execute(name)`. The module is imported again in every worker thread, so pipeline
 * construction must be deterministic: the runtime compares the graphs and refuses to run when
 * they differ.
 */
import { availableParallelism } from 'node:os';
import { CheckpointConfig, CheckpointingMode, type StateBackend } from './checkpoint-config.ts';
import { ConfigError, Configuration, type ExecutionMode } from './configuration.ts';
import {
  restartStrategyFromConfig,
  validateRestartStrategyConfiguration,
  type RestartStrategyConfiguration,
} from './restart-strategies.ts';
import { SavepointRestoreSettings } from './savepoint-restore-settings.ts';

/** Splits Flink's restart-strategy.* keys (parsed as a group) from the other options. */
function withRestartKeys(config: Configuration, options: Record<string, unknown>): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  const restart: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) (k.startsWith('restart-strategy.') ? restart : rest)[k] = v;
  if (Object.keys(restart).length > 0) config.set('restart-strategy', restartStrategyFromConfig(restart));
  return rest;
}
import { DataStream } from './data-stream.ts';
import { executionRegistry } from './execution-context.ts';
import type { RichParallelSourceFunction, SourceFunction } from './functions.ts';
import type { JobClient, JobExecutionResult } from './job-client.ts';
import type { PipelineContext } from './pipeline-context.ts';
import type { Source, SourceSplit } from './source.ts';
import { defaultSettings, type PhysicalTransformation, type SourceSpec, type Transformation } from './transformation.ts';
import type { WatermarkStrategy } from './watermark-strategy.ts';

/** Settings of how records are processed (Flink's ExecutionConfig). */
export class ExecutionConfig {
  constructor(readonly configuration: Configuration) {}
  setAutoWatermarkInterval(intervalMs: number): this {
    this.configuration.set('pipeline.auto-watermark-interval', intervalMs);
    return this;
  }
  getAutoWatermarkInterval(): number {
    return this.configuration.get('pipeline.auto-watermark-interval');
  }
}

export class StreamExecutionEnvironment implements PipelineContext {
  readonly #config: Configuration;
  readonly #transformations: PhysicalTransformation[] = [];
  #nextId = 0;
  #parallelismSet = false;

  private constructor(config: Configuration) {
    this.#config = config;
  }

  /**
   * A new environment. Options given here, then options imposed by the launcher (such as
   * `weir run -p`), then setters called on the environment decide the configuration, in that
   * order of increasing precedence.
   */
  static getExecutionEnvironment(options: Record<string, unknown> | Configuration = {}): StreamExecutionEnvironment {
    const config = options instanceof Configuration ? options.clone() : new Configuration();
    if (!(options instanceof Configuration)) {
      for (const [k, v] of Object.entries(withRestartKeys(config, options))) config.setString(k, v);
    }
    const overrides = executionRegistry().overrides;
    for (const [k, v] of Object.entries(withRestartKeys(config, overrides))) config.setString(k, v);
    const env = new StreamExecutionEnvironment(config);
    const explicit = 'parallelism.default' in overrides || (!(options instanceof Configuration) && 'parallelism.default' in options);
    if (!explicit && !(options instanceof Configuration)) {
      config.set('parallelism.default', config.get('weir.execution.mode') === 'inline' ? 1 : availableParallelism());
    }
    return env;
  }

  // ---- configuration -------------------------------------------------------------------------

  setParallelism(parallelism: number): this {
    this.#config.set('parallelism.default', parallelism);
    this.#parallelismSet = true;
    return this;
  }
  getParallelism(): number {
    return this.#config.get('parallelism.default');
  }
  /** Whether setParallelism was called in the job's code. */
  get parallelismSetInCode(): boolean {
    return this.#parallelismSet;
  }
  setMaxParallelism(maxParallelism: number): this {
    this.#config.set('pipeline.max-parallelism', maxParallelism);
    return this;
  }
  getMaxParallelism(): number | undefined {
    return this.#config.get('pipeline.max-parallelism');
  }
  /** 'threads' (default): subtasks run on worker threads. 'inline': all on the calling thread. */
  setExecutionMode(mode: ExecutionMode): this {
    this.#config.set('weir.execution.mode', mode);
    return this;
  }
  getExecutionMode(): ExecutionMode {
    return this.#config.get('weir.execution.mode');
  }
  /** Sets options by their configuration keys (e.g. `pipeline.auto-watermark-interval`). */
  configure(options: Record<string, unknown>): this {
    for (const [k, v] of Object.entries(withRestartKeys(this.#config, options))) this.#config.setString(k, v);
    return this;
  }

  /** How the job recovers from failures (RestartStrategies.fixedDelayRestart(...), ...). */
  setRestartStrategy(strategy: RestartStrategyConfiguration): this {
    this.#config.set('restart-strategy', validateRestartStrategyConfiguration(strategy));
    return this;
  }
  getRestartStrategy(): RestartStrategyConfiguration | undefined {
    return this.#config.get('restart-strategy');
  }

  /**
   * Starts the job from a savepoint or retained checkpoint (Flink's setSavepointRestoreSettings);
   * writes `execution.savepoint.path` and `execution.savepoint.ignore-unclaimed-state`. Like every
   * setter, it overrides what the launcher imposed (`weir run -s/-n`, `-D`): calling it with
   * none() in the job's code discards a `-s` given on the command line.
   */
  setSavepointRestoreSettings(settings: SavepointRestoreSettings): this {
    // Checked by shape, not instanceof: a job may reach a second copy of this module.
    const s = settings as Partial<SavepointRestoreSettings> | null | undefined;
    if (typeof s?.getRestorePath !== 'function' || typeof s.allowNonRestoredState !== 'function') {
      throw new TypeError('setSavepointRestoreSettings: expected SavepointRestoreSettings.none() or SavepointRestoreSettings.forPath(path)');
    }
    this.#config.set('execution.savepoint.path', settings.getRestorePath());
    this.#config.set('execution.savepoint.ignore-unclaimed-state', settings.allowNonRestoredState());
    return this;
  }
  /** The restore settings the configuration holds: none() when no savepoint path is set. */
  getSavepointRestoreSettings(): SavepointRestoreSettings {
    const path = this.#config.get('execution.savepoint.path');
    return path === undefined
      ? SavepointRestoreSettings.none()
      : SavepointRestoreSettings.forPath(path, this.#config.get('execution.savepoint.ignore-unclaimed-state'));
  }
  getConfig(): ExecutionConfig {
    return new ExecutionConfig(this.#config);
  }
  getConfiguration(): Configuration {
    return this.#config;
  }

  /** Takes a checkpoint every `intervalMs` (Flink's enableCheckpointing; mode defaults to exactly-once). */
  enableCheckpointing(intervalMs: number, mode: CheckpointingMode = CheckpointingMode.EXACTLY_ONCE): this {
    this.#config.set('execution.checkpointing.interval', intervalMs);
    this.#config.setString('execution.checkpointing.mode', mode);
    return this;
  }
  /**
   * Where savepoints go when a savepoint or stop names no directory (Flink's
   * setDefaultSavepointDirectory): a path or a file:// URI; sets `state.savepoints.dir`.
   */
  setDefaultSavepointDirectory(directory: string): this {
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new ConfigError('setDefaultSavepointDirectory: needs a directory path or a file:// URI');
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(directory) && !directory.startsWith('file://')) {
      throw new ConfigError(`setDefaultSavepointDirectory: only file:// locations are supported, got ${directory}`);
    }
    this.#config.set('state.savepoints.dir', directory);
    return this;
  }
  getDefaultSavepointDirectory(): string | undefined {
    return this.#config.get('state.savepoints.dir');
  }
  getCheckpointConfig(): CheckpointConfig {
    return new CheckpointConfig(this.#config);
  }
  setStateBackend(backend: StateBackend): this {
    if (!backend || typeof (backend as { type?: unknown }).type !== 'string') {
      throw new TypeError('setStateBackend: expected a state backend, e.g. new HashMapStateBackend()');
    }
    this.#config.set('state.backend.type', backend.type);
    for (const [key, value] of Object.entries(backend.settings ?? {})) this.#config.setString(key, value);
    return this;
  }
  /**
   * Flink's changelog state backend (`state.backend.changelog.enabled`): checkpoints upload the
   * state's changes since the last one, and the backend's files only at periodic
   * materializations. Kept by the RocksDB backend (docs/rocksdb.md); the heap backend refuses it.
   */
  enableChangelogStateBackend(enabled: boolean): this {
    if (typeof enabled !== 'boolean') throw new TypeError('enableChangelogStateBackend: expected true or false');
    this.#config.set('state.backend.changelog.enabled', enabled);
    return this;
  }
  isChangelogStateBackendEnabled(): boolean {
    return this.#config.get('state.backend.changelog.enabled');
  }

  // ---- sources -------------------------------------------------------------------------------

  #source<T>(name: string, source: SourceSpec, watermarkStrategy?: WatermarkStrategy<T>): DataStream<T> {
    const t: PhysicalTransformation = {
      kind: 'source',
      id: this._nextId(),
      settings: defaultSettings(name),
      source,
      watermarkStrategy: watermarkStrategy as WatermarkStrategy<unknown> | undefined,
    };
    if (source.kind === 'elements' || (source.kind === 'source-function' && !source.parallel)) {
      t.settings.parallelism = 1;
      t.settings.parallelismFixed = true;
    }
    this._addTransformation(t);
    return new DataStream<T>(this, t);
  }

  /** The numbers from..to (inclusive), split into ranges over the parallel subtasks. */
  fromSequence(from: number, to: number): DataStream<number> {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) {
      throw new RangeError(`fromSequence: needs safe integers with from <= to, got ${from}..${to}`);
    }
    return this.#source('Sequence Source', { kind: 'sequence', from, to });
  }

  /** The given values, in order, from a single (non-parallel) source. */
  fromElements<T>(...values: T[]): DataStream<T> {
    return this.#source('Collection Source', { kind: 'elements', values: [...values] });
  }

  fromCollection<T>(values: Iterable<T>): DataStream<T> {
    if (values === null || typeof (values as Iterable<T>)?.[Symbol.iterator] !== 'function') {
      throw new TypeError('fromCollection: expected an iterable');
    }
    return this.#source('Collection Source', { kind: 'elements', values: Array.from(values) });
  }

  /**
   * A source driven by its own `run` loop (the seed's ClickSource shape). Non-parallel unless
   * it extends RichParallelSourceFunction.
   */
  addSource<T>(fn: SourceFunction<T>, name = 'Custom Source'): DataStream<T> {
    if (fn === null || typeof fn !== 'object' || typeof fn.run !== 'function' || typeof fn.cancel !== 'function') {
      throw new TypeError('addSource: expected an object with run(ctx) and cancel() (a SourceFunction)');
    }
    const parallel = (fn.constructor as typeof RichParallelSourceFunction | undefined)?.parallel === true;
    return this.#source(name, { kind: 'source-function', fn: fn as SourceFunction<unknown>, parallel });
  }

  /** A split-based source, with the watermark strategy applied inside the source task. */
  fromSource<T, S extends SourceSplit>(source: Source<T, S>, watermarkStrategy: WatermarkStrategy<T>, name: string): DataStream<T> {
    for (const m of ['getBoundedness', 'createSplits', 'createReader'] as const) {
      if (typeof (source as unknown as Record<string, unknown>)?.[m] !== 'function') {
        throw new TypeError(`fromSource: expected a Source with ${m}()`);
      }
    }
    return this.#source(name, { kind: 'source', source: source as unknown as Source<unknown, SourceSplit> }, watermarkStrategy);
  }

  // ---- execution -----------------------------------------------------------------------------

  /** Runs the job and resolves when it finishes; rejects with JobExecutionError when it fails. */
  async execute(jobName = 'weir job'): Promise<JobExecutionResult> {
    const client = await this.executeAsync(jobName);
    return client.getJobExecutionResult();
  }

  /** Submits the job and resolves with a client once it is running. */
  async executeAsync(jobName = 'weir job'): Promise<JobClient> {
    const registry = executionRegistry();
    const ordinal = registry.executeCalls++;
    if (this.#transformations.length === 0) {
      throw new Error('No operators defined in the pipeline: add a source and an operator or sink before execute()');
    }
    if (!registry.executor) {
      throw new Error('no job executor is registered: import weir through its package entry ("weir")');
    }
    return registry.executor.execute({ jobName, transformations: [...this.#transformations], config: this.#config.clone(), ordinal });
  }

  // ---- internal ------------------------------------------------------------------------------

  /** @internal */
  _nextId(): number {
    return this.#nextId++;
  }

  /** @internal */
  _addTransformation(t: PhysicalTransformation): void {
    this.#transformations.push(t);
  }

  /** @internal Registers a stream's physical node so it runs even without a sink. */
  _add<S extends { readonly transformation: Transformation }>(stream: S): S {
    const t: Transformation = stream.transformation;
    if (t.kind === 'one-input' || t.kind === 'two-input') this._addTransformation(t);
    return stream;
  }
}

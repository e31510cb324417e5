/**
 * Job configuration by Flink's option keys. Every key is declared once with its type, default
 * and validation, so a wrong key or value is rejected at submission with a message naming it.
 */

import { defaultRestartStrategy, type RestartStrategyConfiguration } from './restart-strategies.ts';
import * as v from 'valibot';
import { ConfigError, parseDuration, parseMemorySize } from './config-parsing.ts';
import { parseScopeDelimiter, parseScopeFormat, type ScopeKind } from './metric-scope-format.ts';

export { ConfigError, parseDuration, parseMemorySize } from './config-parsing.ts';

export type ExecutionMode = 'threads' | 'inline';
export type CheckpointingModeName = 'EXACTLY_ONCE' | 'AT_LEAST_ONCE';
export type ExternalizedRetention = 'NO_EXTERNALIZED_CHECKPOINTS' | 'RETAIN_ON_CANCELLATION' | 'DELETE_ON_CANCELLATION';

export interface ConfigValues {
  /** Default parallelism of operators that set none. */
  'parallelism.default': number;
  /** Upper bound for rescaling keyed state; undefined: derived from the parallelism as Flink does. */
  'pipeline.max-parallelism': number | undefined;
  /** How often watermark generators are asked for a periodic watermark (ms); 0 disables. */
  'pipeline.auto-watermark-interval': number;
  /** 'threads': one worker thread per slot. 'inline': every subtask on the calling thread. */
  'weir.execution.mode': ExecutionMode;
  /** Records per buffer between tasks before a buffer is sent without waiting for the end of the turn. */
  'weir.network.buffer-records': number;
  /** Serialised bytes a buffer between threads aims at: caps the records per buffer for large records. */
  'weir.network.buffer-bytes': number;
  /** Buffers a consumer lets each input channel have in flight (credits). */
  'weir.network.credits-per-channel': number;
  /** Checkpoint interval (ms); undefined: checkpointing disabled. */
  'execution.checkpointing.interval': number | undefined;
  'execution.checkpointing.mode': CheckpointingModeName;
  /** A checkpoint not complete after this long is aborted (ms). */
  'execution.checkpointing.timeout': number;
  /** Minimum time from the end of one checkpoint to the start of the next (ms). */
  'execution.checkpointing.min-pause': number;
  'execution.checkpointing.max-concurrent-checkpoints': number;
  /** Consecutive checkpoint failures tolerated before the job fails over. */
  'execution.checkpointing.tolerable-failed-checkpoints': number;
  'execution.checkpointing.externalized-checkpoint-retention': ExternalizedRetention;
  /**
   * Flink's FLIP-147 (default true): with checkpointing enabled, tasks whose input ended take part
   * in checkpoints, and a bounded job ends only after a final checkpoint taken once every task
   * reached the end of its input has completed, so the last transactions of its sinks commit.
   */
  'execution.checkpointing.checkpoints-after-tasks-finish': boolean;
  /**
   * Flink's unaligned checkpoints (default false): with exactly-once checkpointing, a barrier
   * overtakes the data buffered before it and that in-flight data is stored with the checkpoint
   * (channel state), so a checkpoint's duration does not grow with backpressure. Requires
   * `execution.checkpointing.mode` EXACTLY_ONCE and `max-concurrent-checkpoints` 1 (checked at
   * submission). Savepoints are always aligned.
   */
  'execution.checkpointing.unaligned.enabled': boolean;
  /** Flink's older name of `execution.checkpointing.unaligned.enabled`: the same option under another key. */
  'execution.checkpointing.unaligned': boolean;
  /**
   * With unaligned checkpoints enabled: each checkpoint starts aligned, and a subtask whose
   * alignment has not ended this long after the checkpoint was triggered switches to unaligned
   * for that checkpoint (ms). 0 (the default): unaligned from the start. Without unaligned
   * checkpoints it has no effect.
   */
  'execution.checkpointing.aligned-checkpoint-timeout': number;
  /** Flink's older name of `execution.checkpointing.aligned-checkpoint-timeout`: the same option under another key. */
  'execution.checkpointing.alignment-timeout': number;
  /**
   * Flink's forced unaligned checkpoints (default false): with unaligned checkpoints enabled, take
   * them unaligned also where Flink falls back to aligned barriers by default (iterations, and
   * connections whose partitioning cannot redistribute in-flight data when the job is rescaled).
   * Without unaligned checkpoints it has no effect.
   */
  'execution.checkpointing.unaligned.forced': boolean;
  /** Where checkpoints are written: a path or file:// URI. */
  'state.checkpoints.dir': string | undefined;
  /** Completed checkpoints kept. */
  'state.checkpoints.num-retained': number;
  /** Default target directory of savepoints: a path or file:// URI. */
  'state.savepoints.dir': string | undefined;
  /** Flink 1.19's name of `state.savepoints.dir`: the same option under another key. */
  'execution.checkpointing.savepoint-dir': string | undefined;
  /** Savepoint or retained checkpoint to start the job from (`weir run -s`); undefined: start empty. */
  'execution.savepoint.path': string | undefined;
  /** Allow snapshot state that maps to no operator of the job to be skipped (`weir run -n`). */
  'execution.savepoint.ignore-unclaimed-state': boolean;
  /** A registered state backend's name, e.g. 'hashmap' (checked against the registry at submission). */
  'state.backend.type': string;
  /**
   * Incremental checkpoints (Flink's `state.backend.incremental`, default false): a checkpoint
   * uploads only what changed since the last one. Backends without them (hashmap) ignore it.
   */
  'state.backend.incremental': boolean;
  /** Task-local recovery (Flink's `state.backend.local-recovery`, default false). */
  'state.backend.local-recovery': boolean;
  /**
   * The change log (Flink's `state.backend.changelog.enabled`, default false): checkpoints upload
   * the state's changes since the last one, and the backend's own files only at periodic
   * materializations. The RocksDB backend keeps one; the heap backend refuses the option.
   */
  'state.backend.changelog.enabled': boolean;
  /** Time between materializations with the change log (ms; Flink's default 10 min). */
  'state.backend.changelog.periodic-materialize.interval': number;
  /**
   * Where the heap backend keeps task-local copies for local recovery (Flink's
   * `taskmanager.state.local.root-dirs`, one directory); undefined: `weir-local-recovery` under the
   * OS temporary directory. RocksDB keeps its copies beside its instances
   * (`state.backend.rocksdb.localdir`), since they are hard links to the instances' files.
   */
  'taskmanager.state.local.root-dirs': string | undefined;
  /** Where the RocksDB backend keeps its working instances; undefined: a directory under the OS temporary directory. */
  'state.backend.rocksdb.localdir': string | undefined;
  /** RocksDB's memtable size per instance, bytes (default 64 MiB). */
  'state.backend.rocksdb.writebuffer.size': number;
  /** Memtables per instance before writes stall (default 2). */
  'state.backend.rocksdb.writebuffer.count': number;
  /** RocksDB's block cache: 0 turns it off; any other size keeps RocksDB's default cache (see docs/rocksdb.md). */
  'state.backend.rocksdb.block.cache-size': number | undefined;
  /**
   * Memory for keyed state in RocksDB per keyed operator subtask, bytes: bounds the cache of
   * decoded entries in front of RocksDB (default 64 MiB).
   */
  'state.backend.rocksdb.memory.fixed-per-slot': number | undefined;
  /** Set by setRestartStrategy or the restart-strategy.* keys; undefined: Flink's default. */
  'restart-strategy': RestartStrategyConfiguration | undefined;
  /** Metric scope formats (api/metric-scope-format.ts, docs/monitoring.md); undefined: Flink's default. */
  'metrics.scope.jm': string | undefined;
  'metrics.scope.jm-job': string | undefined;
  /** Flink 1.x's name of `metrics.scope.jm-job`. */
  'metrics.scope.jm.job': string | undefined;
  'metrics.scope.tm': string | undefined;
  'metrics.scope.tm-job': string | undefined;
  /** Flink 1.x's name of `metrics.scope.tm-job`. */
  'metrics.scope.tm.job': string | undefined;
  'metrics.scope.task': string | undefined;
  'metrics.scope.operator': string | undefined;
  /** One character joining a metric identifier's components; undefined: `.`. */
  'metrics.scope.delimiter': string | undefined;
}

export type ConfigKey = keyof ConfigValues;

/** Keys that are other names of an option: reading or writing one reads or writes the option. */
const ALIASES: Partial<Record<ConfigKey, ConfigKey>> = {
  'execution.checkpointing.savepoint-dir': 'state.savepoints.dir',
  'execution.checkpointing.unaligned': 'execution.checkpointing.unaligned.enabled',
  'execution.checkpointing.alignment-timeout': 'execution.checkpointing.aligned-checkpoint-timeout',
  'metrics.scope.jm.job': 'metrics.scope.jm-job',
  'metrics.scope.tm.job': 'metrics.scope.tm-job',
};

function canonicalKey<K extends ConfigKey>(key: K): K {
  return (ALIASES[key] ?? key) as K;
}

interface OptionSpec<K extends ConfigKey> {
  parse(raw: unknown, key: K): ConfigValues[K];
}

/**
 * Validates `raw` against a valibot schema; a value the schema rejects becomes a ConfigError
 * saying which key wanted what and what it got (valibot's own issue text names no key).
 */
function validated<T>(schema: v.GenericSchema<unknown, T>, wants: string) {
  return (raw: unknown, key: string): T => {
    const result = v.safeParse(schema, raw);
    if (result.success) return result.output;
    throw new ConfigError(`${key} must be ${wants}, got ${JSON.stringify(raw)}`);
  };
}

/** A number, or a string holding one (values from the command line and files arrive as strings). */
const numeric = v.union([v.number(), v.pipe(v.string(), v.trim(), v.nonEmpty(), v.transform(Number))]);

function positiveInt(max = Number.MAX_SAFE_INTEGER) {
  return validated(v.pipe(numeric, v.integer(), v.minValue(1), v.maxValue(max)), `an integer between 1 and ${max}`);
}

const nonNegativeInt = validated(v.pipe(numeric, v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)), 'a non-negative integer');

/** One of `values`, case-insensitive, with '-' read as '_' (Flink accepts both spellings of enum values). */
function oneOf<T extends string>(values: readonly T[]) {
  return validated(
    v.pipe(v.string(), v.transform((s) => s.toUpperCase().replace(/-/g, '_')), v.picklist(values)),
    `one of ${values.join(', ')}`,
  );
}

const booleanOption = validated(
  v.union([v.boolean(), v.pipe(v.string(), v.trim(), v.toLowerCase(), v.picklist(['true', 'false']), v.transform((s) => s === 'true'))]),
  'true or false',
);

const optionalPath = validated(v.optional(v.pipe(v.string(), v.nonEmpty())), 'a path or file:// URI');

/** A metric scope format of `kind`, kept as written once it parses (a ConfigError naming the key when not). */
function scopeFormatOption(kind: ScopeKind) {
  return (raw: unknown, key: string): string | undefined => {
    if (raw === undefined) return undefined;
    parseScopeFormat(kind, raw, key);
    return (raw as string).trim();
  };
}

const OPTIONS: { [K in ConfigKey]: OptionSpec<K> } = {
  'parallelism.default': { parse: positiveInt(32768) },
  'pipeline.max-parallelism': {
    parse: (raw, key) => (raw === undefined ? undefined : positiveInt(32768)(raw, key)),
  },
  'pipeline.auto-watermark-interval': { parse: nonNegativeInt },
  'weir.execution.mode': { parse: validated(v.picklist(['threads', 'inline']), '"threads" or "inline"') },
  'weir.network.buffer-records': { parse: positiveInt(1 << 20) },
  'weir.network.buffer-bytes': { parse: positiveInt(1 << 30) },
  'weir.network.credits-per-channel': { parse: positiveInt(1024) },
  'execution.checkpointing.interval': {
    parse(raw, key) {
      if (raw === undefined) return undefined;
      const ms = parseDuration(raw, key);
      if (ms < 10) throw new ConfigError(`${key} must be at least 10 ms, got ${ms} ms`);
      return ms;
    },
  },
  'execution.checkpointing.mode': { parse: oneOf(['EXACTLY_ONCE', 'AT_LEAST_ONCE'] as const) },
  'execution.checkpointing.timeout': {
    parse(raw, key) {
      const ms = parseDuration(raw, key);
      if (ms < 1) throw new ConfigError(`${key} must be at least 1 ms, got ${ms}`);
      return ms;
    },
  },
  'execution.checkpointing.min-pause': { parse: parseDuration },
  'execution.checkpointing.max-concurrent-checkpoints': { parse: positiveInt(1024) },
  'execution.checkpointing.tolerable-failed-checkpoints': { parse: nonNegativeInt },
  'execution.checkpointing.externalized-checkpoint-retention': {
    parse: oneOf(['NO_EXTERNALIZED_CHECKPOINTS', 'RETAIN_ON_CANCELLATION', 'DELETE_ON_CANCELLATION'] as const),
  },
  'state.checkpoints.dir': { parse: optionalPath },
  'state.checkpoints.num-retained': { parse: positiveInt(1 << 20) },
  'state.savepoints.dir': { parse: optionalPath },
  'execution.checkpointing.savepoint-dir': { parse: optionalPath },
  'execution.savepoint.path': { parse: optionalPath },
  'execution.savepoint.ignore-unclaimed-state': { parse: booleanOption },
  'execution.checkpointing.checkpoints-after-tasks-finish': { parse: booleanOption },
  'execution.checkpointing.unaligned.enabled': { parse: booleanOption },
  'execution.checkpointing.unaligned': { parse: booleanOption },
  'execution.checkpointing.aligned-checkpoint-timeout': { parse: parseDuration },
  'execution.checkpointing.alignment-timeout': { parse: parseDuration },
  'execution.checkpointing.unaligned.forced': { parse: booleanOption },
  'restart-strategy': {
    // The strategy's own parameters are checked by validateRestartStrategyConfiguration at submission.
    parse: validated(
      v.optional(v.custom<RestartStrategyConfiguration>((x) => typeof x === 'object' && x !== null && typeof (x as { kind?: unknown }).kind === 'string')),
      'a RestartStrategies configuration',
    ),
  },
  'state.backend.incremental': { parse: booleanOption },
  'state.backend.local-recovery': { parse: booleanOption },
  'state.backend.changelog.enabled': { parse: booleanOption },
  'state.backend.changelog.periodic-materialize.interval': { parse: parseDuration },
  'taskmanager.state.local.root-dirs': { parse: optionalPath },
  'state.backend.rocksdb.localdir': { parse: optionalPath },
  'state.backend.rocksdb.writebuffer.size': {
    parse(raw, key) {
      const bytes = parseMemorySize(raw, key);
      if (bytes < 64 * 1024) throw new ConfigError(`${key} must be at least 64 kb, got ${bytes} bytes`);
      return bytes;
    },
  },
  'state.backend.rocksdb.writebuffer.count': { parse: positiveInt(64) },
  'state.backend.rocksdb.block.cache-size': { parse: (raw, key) => (raw === undefined ? undefined : parseMemorySize(raw, key)) },
  'state.backend.rocksdb.memory.fixed-per-slot': {
    parse(raw, key) {
      if (raw === undefined) return undefined;
      const bytes = parseMemorySize(raw, key);
      if (bytes < 1024 * 1024) throw new ConfigError(`${key} must be at least 1 mb, got ${bytes} bytes`);
      return bytes;
    },
  },
  'metrics.scope.jm': { parse: scopeFormatOption('jm') },
  'metrics.scope.jm-job': { parse: scopeFormatOption('jm-job') },
  'metrics.scope.jm.job': { parse: scopeFormatOption('jm-job') },
  'metrics.scope.tm': { parse: scopeFormatOption('tm') },
  'metrics.scope.tm-job': { parse: scopeFormatOption('tm-job') },
  'metrics.scope.tm.job': { parse: scopeFormatOption('tm-job') },
  'metrics.scope.task': { parse: scopeFormatOption('task') },
  'metrics.scope.operator': { parse: scopeFormatOption('operator') },
  'metrics.scope.delimiter': { parse: (raw, key) => (raw === undefined ? undefined : parseScopeDelimiter(raw, key)) },
  'state.backend.type': {
    // Which names exist is known to the state layer's registry, which checks the name at submission.
    parse: validated(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]*$/)), 'the name of a state backend, e.g. "hashmap"'),
  },
};

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(OPTIONS, key);
}

/** Typed, validated option values. */
export class Configuration {
  #values: ConfigValues;

  constructor(initial: Partial<Record<string, unknown>> = {}) {
    this.#values = {
      'parallelism.default': 1,
      'pipeline.max-parallelism': undefined,
      'pipeline.auto-watermark-interval': 200,
      'weir.execution.mode': 'threads',
      'weir.network.buffer-records': 4096,
      'weir.network.buffer-bytes': 128 * 1024,
      'weir.network.credits-per-channel': 4,
      'execution.checkpointing.interval': undefined,
      'execution.checkpointing.mode': 'EXACTLY_ONCE',
      'execution.checkpointing.timeout': 600_000,
      'execution.checkpointing.min-pause': 0,
      'execution.checkpointing.max-concurrent-checkpoints': 1,
      'execution.checkpointing.tolerable-failed-checkpoints': 0,
      'execution.checkpointing.externalized-checkpoint-retention': 'NO_EXTERNALIZED_CHECKPOINTS',
      'execution.checkpointing.checkpoints-after-tasks-finish': true,
      'execution.checkpointing.unaligned.enabled': false,
      'execution.checkpointing.unaligned': false,
      'execution.checkpointing.aligned-checkpoint-timeout': 0,
      'execution.checkpointing.alignment-timeout': 0,
      'execution.checkpointing.unaligned.forced': false,
      'state.checkpoints.dir': undefined,
      'state.checkpoints.num-retained': 1,
      'state.savepoints.dir': undefined,
      'execution.checkpointing.savepoint-dir': undefined,
      'execution.savepoint.path': undefined,
      'execution.savepoint.ignore-unclaimed-state': false,
      'state.backend.type': 'hashmap',
      'state.backend.incremental': false,
      'state.backend.local-recovery': false,
      'state.backend.changelog.enabled': false,
      'state.backend.changelog.periodic-materialize.interval': 10 * 60 * 1000,
      'taskmanager.state.local.root-dirs': undefined,
      'state.backend.rocksdb.localdir': undefined,
      'state.backend.rocksdb.writebuffer.size': 64 * 1024 * 1024,
      'state.backend.rocksdb.writebuffer.count': 2,
      'state.backend.rocksdb.block.cache-size': undefined,
      'state.backend.rocksdb.memory.fixed-per-slot': undefined,
      'restart-strategy': undefined,
      'metrics.scope.jm': undefined,
      'metrics.scope.jm-job': undefined,
      'metrics.scope.jm.job': undefined,
      'metrics.scope.tm': undefined,
      'metrics.scope.tm-job': undefined,
      'metrics.scope.tm.job': undefined,
      'metrics.scope.task': undefined,
      'metrics.scope.operator': undefined,
      'metrics.scope.delimiter': undefined,
    };
    for (const [key, value] of Object.entries(initial)) this.setString(key, value);
  }

  get<K extends ConfigKey>(key: K): ConfigValues[K] {
    return this.#values[canonicalKey(key)];
  }

  set<K extends ConfigKey>(key: K, value: ConfigValues[K]): this {
    this.#values[canonicalKey(key)] = (OPTIONS[key] as OptionSpec<K>).parse(value, key);
    return this;
  }

  /** Sets an option from untyped input (a file, the command line); unknown keys are an error. */
  setString(key: string, value: unknown): this {
    if (!isConfigKey(key)) {
      throw new ConfigError(`unknown configuration key "${key}" (known: ${Object.keys(OPTIONS).join(', ')})`);
    }
    return this.set(key, value as never);
  }

  /** Every option by key; an alias shows the value of the option it names. */
  toObject(): ConfigValues {
    const out = { ...this.#values };
    for (const [alias, key] of Object.entries(ALIASES) as [ConfigKey, ConfigKey][]) (out as Record<string, unknown>)[alias] = out[key];
    return out;
  }

  clone(): Configuration {
    const c = new Configuration();
    c.#values = { ...this.#values };
    return c;
  }
}

/**
 * Whether a job with this configuration takes a final checkpoint after the end of its input
 * (checkpointing enabled and `execution.checkpointing.checkpoints-after-tasks-finish`): the one
 * rule the tasks, the sinks and the job consult, so they always agree.
 */
export function takesFinalCheckpoint(config: Configuration): boolean {
  return config.get('execution.checkpointing.interval') !== undefined && config.get('execution.checkpointing.checkpoints-after-tasks-finish');
}

/**
 * The restart strategy a job with this configuration runs with: the configured one, or Flink's
 * default (exponential delay with checkpointing, none without).
 */
export function restartStrategyInForce(config: Configuration): RestartStrategyConfiguration {
  return config.get('restart-strategy') ?? defaultRestartStrategy(config.get('execution.checkpointing.interval') !== undefined);
}

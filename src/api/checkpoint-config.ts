/**
 * Checkpoint settings with Flink's names (CheckpointConfig). Every setter writes the matching
 * configuration key, so code and configuration files set the same things, and every value is
 * validated where it is set, with a message naming the setting.
 */
import { ConfigError, type CheckpointingModeName, type Configuration, type ExternalizedRetention } from './configuration.ts';

export const CheckpointingMode = {
  EXACTLY_ONCE: 'EXACTLY_ONCE',
  AT_LEAST_ONCE: 'AT_LEAST_ONCE',
} as const satisfies Record<CheckpointingModeName, CheckpointingModeName>;
export type CheckpointingMode = CheckpointingModeName;

export const ExternalizedCheckpointRetention = {
  NO_EXTERNALIZED_CHECKPOINTS: 'NO_EXTERNALIZED_CHECKPOINTS',
  RETAIN_ON_CANCELLATION: 'RETAIN_ON_CANCELLATION',
  DELETE_ON_CANCELLATION: 'DELETE_ON_CANCELLATION',
} as const satisfies Record<ExternalizedRetention, ExternalizedRetention>;
export type ExternalizedCheckpointRetention = ExternalizedRetention;

/**
 * What env.setStateBackend() takes: the name of a registered state backend, which it writes to
 * `state.backend.type` (the runtime resolves that key to the backend itself).
 */
export interface StateBackend {
  readonly type: string;
  /** Further configuration keys the backend object sets (e.g. `state.backend.incremental`). */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** The heap state backend: keyed state lives on the JavaScript heap, snapshots are asynchronous. */
export class HashMapStateBackend implements StateBackend {
  readonly type = 'hashmap' as const;
}

/**
 * The RocksDB state backend (Flink's EmbeddedRocksDBStateBackend): keyed state lives in an
 * embedded RocksDB instance per keyed operator subtask, on local disk, behind a bounded cache,
 * so it may be larger than memory. `new EmbeddedRocksDBStateBackend(true)` asks for incremental
 * checkpoints (`state.backend.incremental`), as in Flink.
 */
export class EmbeddedRocksDBStateBackend implements StateBackend {
  readonly type = 'rocksdb' as const;
  readonly #settings: Record<string, unknown>;

  constructor(enableIncrementalCheckpointing?: boolean) {
    this.#settings = enableIncrementalCheckpointing === undefined ? {} : { 'state.backend.incremental': enableIncrementalCheckpointing };
  }

  get settings(): Readonly<Record<string, unknown>> {
    return this.#settings;
  }

  isIncrementalCheckpointsEnabled(): boolean {
    return this.#settings['state.backend.incremental'] === true;
  }

  /** Where the working RocksDB instances go (`state.backend.rocksdb.localdir`). */
  setDbStoragePath(path: string): this {
    if (typeof path !== 'string' || path === '') throw new TypeError('setDbStoragePath: expected a directory path');
    this.#settings['state.backend.rocksdb.localdir'] = path;
    return this;
  }
}

export class CheckpointConfig {
  /** Flink's older name for the retention settings, as the seed examples use it. */
  static readonly ExternalizedCheckpointCleanup = ExternalizedCheckpointRetention;

  constructor(readonly configuration: Configuration) {}

  isCheckpointingEnabled(): boolean {
    return this.configuration.get('execution.checkpointing.interval') !== undefined;
  }
  getCheckpointInterval(): number {
    return this.configuration.get('execution.checkpointing.interval') ?? -1;
  }
  setCheckpointInterval(intervalMs: number): this {
    this.configuration.set('execution.checkpointing.interval', intervalMs);
    return this;
  }
  setCheckpointingMode(mode: CheckpointingMode): this {
    this.configuration.setString('execution.checkpointing.mode', mode);
    return this;
  }
  getCheckpointingMode(): CheckpointingMode {
    return this.configuration.get('execution.checkpointing.mode');
  }
  /** Default 10 minutes. */
  setCheckpointTimeout(timeoutMs: number): this {
    this.configuration.set('execution.checkpointing.timeout', timeoutMs);
    return this;
  }
  getCheckpointTimeout(): number {
    return this.configuration.get('execution.checkpointing.timeout');
  }
  setMinPauseBetweenCheckpoints(minPauseMs: number): this {
    this.configuration.set('execution.checkpointing.min-pause', minPauseMs);
    return this;
  }
  getMinPauseBetweenCheckpoints(): number {
    return this.configuration.get('execution.checkpointing.min-pause');
  }
  setMaxConcurrentCheckpoints(n: number): this {
    this.configuration.set('execution.checkpointing.max-concurrent-checkpoints', n);
    return this;
  }
  getMaxConcurrentCheckpoints(): number {
    return this.configuration.get('execution.checkpointing.max-concurrent-checkpoints');
  }
  setTolerableCheckpointFailureNumber(n: number): this {
    this.configuration.set('execution.checkpointing.tolerable-failed-checkpoints', n);
    return this;
  }
  getTolerableCheckpointFailureNumber(): number {
    return this.configuration.get('execution.checkpointing.tolerable-failed-checkpoints');
  }
  setExternalizedCheckpointRetention(retention: ExternalizedCheckpointRetention): this {
    this.configuration.setString('execution.checkpointing.externalized-checkpoint-retention', retention);
    return this;
  }
  /** The seed's spelling of setExternalizedCheckpointRetention. */
  enableExternalizedCheckpoints(cleanup: ExternalizedCheckpointRetention): this {
    return this.setExternalizedCheckpointRetention(cleanup);
  }
  getExternalizedCheckpointRetention(): ExternalizedCheckpointRetention {
    return this.configuration.get('execution.checkpointing.externalized-checkpoint-retention');
  }
  /** A directory path or a file:// URI, e.g. 'file:///tmp/flink-checkpoints'. */
  setCheckpointStorage(location: string): this {
    if (typeof location !== 'string' || location.length === 0) {
      throw new ConfigError('setCheckpointStorage: needs a directory path or a file:// URI');
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://')) {
      throw new ConfigError(`setCheckpointStorage: only file:// locations are supported, got ${location}`);
    }
    this.configuration.set('state.checkpoints.dir', location);
    return this;
  }
  getCheckpointStorage(): string | undefined {
    return this.configuration.get('state.checkpoints.dir');
  }
  setNumRetainedCheckpoints(n: number): this {
    this.configuration.set('state.checkpoints.num-retained', n);
    return this;
  }
  getNumRetainedCheckpoints(): number {
    return this.configuration.get('state.checkpoints.num-retained');
  }
  /**
   * Enables (by default) or disables unaligned checkpoints
   * (`execution.checkpointing.unaligned.enabled`): barriers overtake in-flight data, which is
   * stored with the checkpoint, so checkpoints complete quickly under backpressure. Requires
   * exactly-once mode and at most one concurrent checkpoint, checked when the job is submitted.
   * Savepoints stay aligned.
   */
  enableUnalignedCheckpoints(enabled = true): this {
    this.configuration.set('execution.checkpointing.unaligned.enabled', enabled);
    return this;
  }
  isUnalignedCheckpointsEnabled(): boolean {
    return this.configuration.get('execution.checkpointing.unaligned.enabled');
  }
  /**
   * With unaligned checkpoints enabled, how long (ms) a checkpoint stays aligned before a subtask
   * still aligning switches to unaligned (`execution.checkpointing.aligned-checkpoint-timeout`).
   * 0, the default: unaligned from the start. Flink takes a Duration; weir takes milliseconds.
   */
  setAlignedCheckpointTimeout(timeoutMs: number): this {
    this.configuration.set('execution.checkpointing.aligned-checkpoint-timeout', timeoutMs);
    return this;
  }
  getAlignedCheckpointTimeout(): number {
    return this.configuration.get('execution.checkpointing.aligned-checkpoint-timeout');
  }
  /**
   * With unaligned checkpoints enabled, takes them unaligned also where Flink falls back to
   * aligned barriers by default (`execution.checkpointing.unaligned.forced`).
   */
  setForceUnalignedCheckpoints(force: boolean): this {
    this.configuration.set('execution.checkpointing.unaligned.forced', force);
    return this;
  }
  isForceUnalignedCheckpoints(): boolean {
    return this.configuration.get('execution.checkpointing.unaligned.forced');
  }
}

/**
 * Combinations that are invalid as a whole, checked at submission: each message names the
 * settings involved.
 */
export function validateCheckpointing(c: Configuration): void {
  const interval = c.get('execution.checkpointing.interval');
  if (interval === undefined) return;
  const timeout = c.get('execution.checkpointing.timeout');
  const minPause = c.get('execution.checkpointing.min-pause');
  if (minPause > 0 && c.get('execution.checkpointing.max-concurrent-checkpoints') > 1) {
    throw new ConfigError(
      'execution.checkpointing.min-pause > 0 allows only one checkpoint at a time: set execution.checkpointing.max-concurrent-checkpoints to 1 or the min pause to 0',
    );
  }
  if (timeout < 1) throw new ConfigError('execution.checkpointing.timeout must be positive');
  if (c.get('execution.checkpointing.unaligned.enabled')) {
    // Unaligned barriers are an exactly-once technique: at-least-once has no alignment to skip.
    if (c.get('execution.checkpointing.mode') !== 'EXACTLY_ONCE') {
      throw new ConfigError(
        'execution.checkpointing.unaligned.enabled requires execution.checkpointing.mode EXACTLY_ONCE, got AT_LEAST_ONCE: set the mode to EXACTLY_ONCE or disable unaligned checkpoints',
      );
    }
    // A subtask's in-flight data belongs to exactly one checkpoint, so only one can be in flight.
    const maxConcurrent = c.get('execution.checkpointing.max-concurrent-checkpoints');
    if (maxConcurrent > 1) {
      throw new ConfigError(
        `execution.checkpointing.unaligned.enabled allows only one checkpoint at a time, got execution.checkpointing.max-concurrent-checkpoints ${maxConcurrent}: set it to 1 or disable unaligned checkpoints`,
      );
    }
  }
}

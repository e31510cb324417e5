/**
 * The sink contract (Flink's Sink V2 shape): a sink is a factory of per-subtask writers and,
 * for sinks that make output visible in two phases, of committers.
 *
 * How a checkpointed job drives a sink subtask:
 *  1. records go to `SinkWriter.write`;
 *  2. at a checkpoint's barrier the writer is flushed (`flush(false)`), a committing writer hands
 *     over what it staged since the previous barrier as committables (`prepareCommit`), and a
 *     stateful writer reports its own state (`snapshotState`). Committables and writer state are
 *     stored in the checkpoint, the committables under the checkpoint's id;
 *  3. when checkpoint n completes, every stored committable of checkpoints <= n goes to
 *     `Committer.commit`; committed ones leave the state, ones asked to be retried stay;
 *  4. after a failure the job restores its newest completed checkpoint: the committables stored in
 *     it are committed again before anything else, so a commit interrupted by the failure is
 *     finished. Commits must therefore be idempotent: committing a committable that is already
 *     committed must succeed without making anything visible twice. Records after the checkpoint
 *     are replayed by the sources and written again; what the old writer staged for them and never
 *     handed over is abandoned.
 *
 * Committables and writer state travel inside checkpoints, so they must be plain data (objects,
 * arrays, strings, numbers, booleans, null, bigints, byte arrays), or the sink gives a codec that
 * turns them into plain data and back.
 *
 * At the end of a bounded input the writer is flushed with `flush(true)` and a committing writer
 * hands over its last committables. With checkpointing disabled they are committed at once. With
 * checkpointing enabled they go into the job's final checkpoint, taken after every task reached
 * the end of its input (Flink's FLIP-147), and are committed when it completes, before the job
 * ends.
 */
import type { RestartStrategyConfiguration } from './restart-strategies.ts';

/** What a writer learns about the subtask that runs it, and the state it restarts from. */
export interface SinkWriterContext<WriterStateT = unknown> {
  getJobId(): string;
  getSubtaskIndex(): number;
  getNumberOfParallelSubtasks(): number;
  /** 0 on the first run, increased by one on every restart. */
  getAttemptNumber(): number;
  /** Whether the job started from a checkpoint or savepoint. */
  isRestored(): boolean;
  /**
   * The id of the checkpoint or savepoint the job restored (Flink's
   * InitContext.getRestoredCheckpointId), undefined on a fresh start. Checkpoint ids only grow,
   * also across a resume with `weir run -s`: what a writer staged after this id was never part of
   * a completed checkpoint the job knows.
   */
  getRestoredCheckpointId(): number | undefined;
  /**
   * The writer states this subtask restarts from (empty on a fresh start): its own when the
   * parallelism is unchanged, otherwise a share of all old subtasks' states.
   */
  getRestoredState(): readonly WriterStateT[];
  /** Processing time from the job's clock. */
  currentProcessingTime(): number;
  /**
   * What recovering from a failure takes in this job, for sinks whose guarantee holds only for a
   * while (a de-duplication window): the checkpoint interval (undefined without checkpointing)
   * and the restart strategy in force (the configured one, or Flink's default for the job).
   */
  getRecoverySettings(): RecoverySettings;
}

export interface RecoverySettings {
  readonly checkpointIntervalMs: number | undefined;
  readonly restartStrategy: RestartStrategyConfiguration;
}

/** What a writer learns about one record. */
export interface SinkWriterElementContext {
  /** The record's event-time timestamp, or undefined when it has none. */
  timestamp(): number | undefined;
  currentWatermark(): number;
  /**
   * A deterministic id of this record, for sinks that make writes idempotent (an upsert key, a
   * de-duplication id such as JetStream's `Nats-Msg-Id`): `<operator>-<subtask>-<epoch>-<sequence>`,
   * where the sequence counts the records this subtask has written since the epoch began, and the
   * count is kept in checkpoints. After a failure the job restores a checkpoint and the sources
   * replay what followed it: each replayed record gets the id it had before, so a store that
   * de-duplicates by id keeps it once.
   *
   * That holds when the records reach this subtask in the same order on replay: a deterministic
   * source and a sink chained to it or fed over one channel (forward). Records merged from several
   * channels (after keyBy or rebalance from a parallel upstream) interleave differently on replay;
   * such a sink should derive its ids from the records' content instead. The epoch is 0 on a fresh
   * start, carried over on a restore at the same parallelism, and a new one (greater than any
   * before) on a restore at another parallelism, whose records therefore never reuse an old id.
   * Call it during `write`, before the writer's first await: it names the record being written.
   */
  recordId(): string;
}

/**
 * Writes the records of one subtask. A returned promise is awaited before the next record is
 * written (writes stay ordered and backpressure the job).
 */
export interface SinkWriter<IN> {
  write(element: IN, context: SinkWriterElementContext): void | Promise<void>;
  /**
   * Makes everything written so far durable where the sink needs it to be for the checkpoint
   * (at-least-once sinks send it; two-phase sinks finish staging it). `endOfInput` is true once,
   * after the last record of a bounded input.
   */
  flush(endOfInput: boolean): void | Promise<void>;
  close(): void | Promise<void>;
}

/** A writer of a two-phase sink: stages records, and hands over what it staged at each barrier. */
export interface CommittingSinkWriter<IN, CommT> extends SinkWriter<IN> {
  /**
   * Called at every barrier after `flush(false)`, and once at end of input after `flush(true)`:
   * returns the committables that make visible what was written since the previous call (none
   * when nothing was). The writer must not touch them afterwards.
   */
  prepareCommit(): CommT[] | Promise<CommT[]>;
}

/** A writer with state of its own (open transactions, buffered records) to keep in checkpoints. */
export interface StatefulSinkWriter<IN, WriterStateT> extends SinkWriter<IN> {
  /** Called at every barrier after `prepareCommit`; the result is handed back through `getRestoredState`. */
  snapshotState(checkpointId: number): WriterStateT[] | Promise<WriterStateT[]>;
}

/**
 * One committable handed to a committer, and how the committer says what became of it. Signalling
 * nothing means it was committed.
 */
export interface CommitRequest<CommT> {
  getCommittable(): CommT;
  /** How often this committable was already asked to be retried. */
  getNumberOfRetries(): number;
  /** It cannot be committed for a reason the committer understands (e.g. its transaction expired); it is dropped and the job goes on. */
  signalFailedWithKnownReason(error: unknown): void;
  /** It cannot be committed and the committer does not know why: the job fails (and restores). */
  signalFailedWithUnknownReason(error: unknown): void;
  /** Not now (e.g. the external system is unavailable): it stays and is committed again later. */
  retryLater(): void;
  /** As retryLater, with a replacement committable. */
  updateAndRetryLater(committable: CommT): void;
  /** It was committed before (e.g. by the run that failed): nothing to do. */
  signalAlreadyCommitted(): void;
}

/** What a committer learns about the subtask that runs it. */
export interface CommitterContext {
  getJobId(): string;
  getSubtaskIndex(): number;
  getNumberOfParallelSubtasks(): number;
  getAttemptNumber(): number;
}

/**
 * Makes staged output visible. `commit` must be idempotent: the same committable may be handed
 * over again after a failure, and must then succeed (or be signalled already committed) without
 * making its records visible twice. Throwing (or rejecting) fails the job like
 * `signalFailedWithUnknownReason`.
 */
export interface Committer<CommT> {
  commit(requests: readonly CommitRequest<CommT>[]): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** Turns a value into plain data for a checkpoint and back. `version` is stored with the data. */
export interface PlainDataCodec<T> {
  readonly version: number;
  toPlain(value: T): unknown;
  fromPlain(plain: unknown, version: number): T;
}

/**
 * A sink: the factory of its writers and, for a two-phase sink, of its committers. One sink
 * object may serve every subtask of a process, so per-subtask state belongs in the writer and the
 * committer, never in the sink. A sink with `createCommitter` must create CommittingSinkWriters.
 */
export interface Sink<IN, CommT = never, WriterStateT = never> {
  createWriter(context: SinkWriterContext<WriterStateT>): SinkWriter<IN> | Promise<SinkWriter<IN>>;
  createCommitter?(context: CommitterContext): Committer<CommT> | Promise<Committer<CommT>>;
  /** When committables are not plain data. */
  readonly committableCodec?: PlainDataCodec<CommT> | undefined;
  /** When writer states are not plain data. */
  readonly writerStateCodec?: PlainDataCodec<WriterStateT> | undefined;
  /** Milliseconds before committables asked to be retried are committed again, if no checkpoint completes first (default 1000). */
  readonly commitRetryDelayMs?: number | undefined;
  /** Retries of one committable before the job fails (default 10). */
  readonly maxCommitRetries?: number | undefined;
}

export function isCommittingSinkWriter<IN, CommT>(w: SinkWriter<IN>): w is CommittingSinkWriter<IN, CommT> {
  return typeof (w as Partial<CommittingSinkWriter<IN, CommT>>).prepareCommit === 'function';
}

export function isStatefulSinkWriter<IN, WriterStateT>(w: SinkWriter<IN>): w is StatefulSinkWriter<IN, WriterStateT> {
  return typeof (w as Partial<StatefulSinkWriter<IN, WriterStateT>>).snapshotState === 'function';
}

/** Whether an object is a Sink (rather than a SinkFunction): it has createWriter. */
export function isSink(value: unknown): value is Sink<unknown, unknown, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { createWriter?: unknown }).createWriter === 'function';
}

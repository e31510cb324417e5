/**
 * Hosts a Sink (api/sink.ts) in a subtask: its writer takes the records; at each checkpoint's
 * barrier the writer is flushed, its committables are stored in operator state under the
 * checkpoint's id together with the writer's own state; when a checkpoint completes, the
 * committables of it and of every earlier checkpoint go to the committer.
 *
 * Why this gives exactly-once output with a replayable source and an idempotent committer:
 * committables become visible only after the checkpoint that holds them (and the source
 * positions after their records) is durable. A failure before the completion restores an
 * earlier checkpoint, which holds neither those committables nor the positions past their
 * records: the records are written again and the abandoned committables never commit. A failure
 * after the completion restores a checkpoint that still holds every committable not committed
 * when its barrier passed; they are committed again when the operator opens, and idempotence
 * makes that harmless for those already committed.
 *
 * Commits run one at a time, never during a record or a snapshot: each runs from a task mail
 * (completion notices, retry timers on the mailbox scheduler) and suspends the task until done.
 */
import type { CheckpointId } from '../../core/ids.ts';
import { ListStateDescriptor, type ListState } from '../../api/state.ts';
import {
  isCommittingSinkWriter,
  isStatefulSinkWriter,
  type CommitterContext,
  type Committer,
  type CommittingSinkWriter,
  type Sink,
  type SinkWriter,
  type SinkWriterContext,
  type SinkWriterElementContext,
} from '../../api/sink.ts';
import { sleep, type Cancellable } from '../../core/time.ts';
import { restartStrategyInForce } from '../../api/configuration.ts';
import { faultHooks } from '../fault-injection.ts';
import { StreamOperator, tagError, type OperatorContext } from './operator.ts';
import { assertPlainData, PendingCommittables, type CommittableStateEntry } from './pending-committables.ts';
import { isPromise } from './sink-operators.ts';

/** Operator list states of the sink (split on rescale). */
const COMMITTABLES_STATE = 'weir.sink.committables';
const WRITER_STATE = 'weir.sink.writer-state';
/** Union list state: every subtask's record-id position, so a rescaled restore can start a new epoch above all of them. */
const RECORD_IDS_STATE = 'weir.sink.record-ids';

const DEFAULT_RETRY_DELAY_MS = 1000;
const DEFAULT_MAX_RETRIES = 10;

/** The checkpoint id the committables of the end of input are filed under. */
const END_OF_INPUT_ID = Number.MAX_SAFE_INTEGER;

/** Where a subtask's deterministic record ids stood at a checkpoint (see SinkWriterElementContext.recordId). */
interface RecordIdEntry {
  readonly subtask: number;
  readonly parallelism: number;
  readonly epoch: number;
  /** The sequence number the next record gets. */
  readonly next: number;
}

/**
 * The epoch and next sequence number a subtask continues with: its own entry when the
 * parallelism is unchanged; on a rescale (or a restore without entries) a new epoch above every
 * earlier one, starting at 0, so no old id is reused.
 */
export function resumeRecordIds(entries: readonly RecordIdEntry[], subtask: number, parallelism: number): { epoch: number; next: number } {
  if (entries.length === 0) return { epoch: 0, next: 0 };
  const own = entries.find((e) => e.subtask === subtask && e.parallelism === parallelism);
  if (own !== undefined && entries.every((e) => e.parallelism === parallelism)) return { epoch: own.epoch, next: own.next };
  return { epoch: Math.max(...entries.map((e) => e.epoch)) + 1, next: 0 };
}

interface WriterStateEntry {
  readonly version: number;
  readonly state: unknown;
}

type AnySink = Sink<unknown, unknown, unknown>;

export class SinkWriterOperator extends StreamOperator implements SinkWriterElementContext {
  readonly #sink: AnySink;
  readonly #what: string;
  #writer: SinkWriter<unknown> | undefined;
  #committer: Committer<unknown> | undefined;
  readonly #pending = new PendingCommittables<unknown>();
  #committablesState!: ListState<CommittableStateEntry>;
  #writerState!: ListState<WriterStateEntry>;
  #recordIdState!: ListState<RecordIdEntry>;
  #idPrefix = '';
  #epoch = 0;
  /** The sequence number of the record being written (the next one between records). */
  #sequence = 0;
  /** The highest checkpoint known complete: committables up to it may be committed. */
  #completedUpTo = -Infinity;
  /** Commits run one after the other. */
  #commits: Promise<void> = Promise.resolve();
  /** Settles when the latest commit round has ended, however it ended (close waits for it). */
  #settled: Promise<void> = Promise.resolve();
  #retryTimer: Cancellable | undefined;
  #closed = false;
  /** The timestamp of the record being written (-Infinity: none). */
  #timestamp = -Infinity;
  #watermark = -Infinity;
  /** While a write's promise is pending: the records that arrived since, as value, timestamp pairs. */
  #queued: unknown[] | null = null;
  #draining: Promise<void> | undefined;
  /**
   * Set at the end of input with checkpointing: the writer's last committables, filed under the
   * next checkpoint (the job's final one, FLIP-147) and committed when it completes.
   */
  #endOfInput: unknown[] | undefined;

  constructor(ctx: OperatorContext, sink: AnySink) {
    super(ctx);
    this.#sink = sink;
    this.#what = `sink "${ctx.node.name}"`;
  }

  override async open(): Promise<void> {
    const ctx = this.ctx;
    const sink = this.#sink;
    this.#committablesState = ctx.operatorStateBackend.getListState(new ListStateDescriptor<CommittableStateEntry>(COMMITTABLES_STATE));
    this.#writerState = ctx.operatorStateBackend.getListState(new ListStateDescriptor<WriterStateEntry>(WRITER_STATE));
    this.#recordIdState = ctx.operatorStateBackend.getUnionListState(new ListStateDescriptor<RecordIdEntry>(RECORD_IDS_STATE));
    const ids = resumeRecordIds(this.#recordIdState.get(), ctx.subtaskIndex, ctx.parallelism);
    this.#epoch = ids.epoch;
    this.#sequence = ids.next;
    this.#idPrefix = `${ctx.node.operatorId.slice(0, 16)}-${ctx.subtaskIndex}-`;
    const stateCodec = sink.writerStateCodec;
    const restoredStates = this.#writerState.get().map((e) => (stateCodec === undefined ? e.state : stateCodec.fromPlain(e.state, e.version)));
    this.#pending.restore(this.#committablesState.get(), sink.committableCodec);

    const writerContext: SinkWriterContext<unknown> = {
      getJobId: () => ctx.jobId,
      getSubtaskIndex: () => ctx.subtaskIndex,
      getNumberOfParallelSubtasks: () => ctx.parallelism,
      getAttemptNumber: () => ctx.attemptNumber,
      isRestored: () => ctx.restored,
      getRestoredCheckpointId: () => ctx.restoredCheckpointId,
      getRestoredState: () => restoredStates,
      currentProcessingTime: () => ctx.scheduler.now(),
      getRecoverySettings: () => ({ checkpointIntervalMs: ctx.config.get('execution.checkpointing.interval'), restartStrategy: restartStrategyInForce(ctx.config) }),
    };
    this.#writer = await sink.createWriter(writerContext);
    if (typeof sink.createCommitter === 'function') {
      const committerContext: CommitterContext = {
        getJobId: () => ctx.jobId,
        getSubtaskIndex: () => ctx.subtaskIndex,
        getNumberOfParallelSubtasks: () => ctx.parallelism,
        getAttemptNumber: () => ctx.attemptNumber,
      };
      this.#committer = await sink.createCommitter(committerContext);
      if (!isCommittingSinkWriter(this.#writer)) {
        throw new TypeError(`${this.#what} creates a committer, but its writer has no prepareCommit() (a CommittingSinkWriter)`);
      }
    } else if (isCommittingSinkWriter(this.#writer)) {
      throw new TypeError(`the writer of ${this.#what} prepares commits, but the sink has no createCommitter()`);
    }
    if (this.#pending.size > 0) {
      if (this.#committer === undefined) {
        throw new Error(`${this.#what}: the restored state holds committables, but the sink has no createCommitter()`);
      }
      // Every restored committable belongs to a completed checkpoint (the restored one or earlier).
      this.#completedUpTo = this.#pending.highestCheckpointId();
      await this.#commit();
    }
  }

  // ---- records ---------------------------------------------------------------------------------

  processElement(value: unknown, timestamp: number): void {
    if (this.#queued !== null) {
      this.#queued.push(value, timestamp);
      return;
    }
    this.#timestamp = timestamp;
    const r = this.#writer!.write(value, this);
    this.#sequence++;
    if (isPromise(r)) this.#waitFor(r);
  }

  /** A write returned a promise: the task waits until it and every record queued behind it are written. */
  #waitFor(pending: PromiseLike<void>): void {
    this.#queued = [];
    const drain = this.#drain(pending);
    this.#draining = drain;
    this.ctx.suspendUntil(drain);
  }

  async #drain(pending: PromiseLike<void>): Promise<void> {
    try {
      await pending;
      const q = this.#queued!;
      for (let i = 0; i < q.length; i += 2) {
        this.#timestamp = q[i + 1] as number;
        const r = this.#writer!.write(q[i], this);
        this.#sequence++;
        if (isPromise(r)) await r;
      }
      this.#queued = null;
      this.#draining = undefined;
    } catch (e) {
      throw tagError(e, this.ctx);
    }
  }

  override processWatermark(watermark: number): void {
    this.#watermark = watermark;
  }
  override processWatermarkStatus(): void {}

  timestamp(): number | undefined {
    return this.#timestamp === -Infinity ? undefined : this.#timestamp;
  }
  currentWatermark(): number {
    return this.#watermark;
  }
  recordId(): string {
    return `${this.#idPrefix}${this.#epoch}-${this.#sequence}`;
  }

  // ---- checkpoints -----------------------------------------------------------------------------

  /** At the barrier: flush, take the checkpoint's committables and the writer's state, store them in operator state. */
  override snapshotFunctionState(checkpointId: CheckpointId): Promise<void> {
    return this.#snapshot(checkpointId);
  }

  async #snapshot(checkpointId: CheckpointId): Promise<void> {
    const writer = this.#writer!;
    if (this.#endOfInput !== undefined) {
      // The writer finished: nothing more to flush; its last committables go into this checkpoint.
      this.#pending.add(checkpointId, this.#endOfInput.splice(0));
    } else {
      if (this.#draining !== undefined) await this.#draining;
      await writer.flush(false);
      if (this.#committer !== undefined) {
        this.#pending.add(checkpointId, await (writer as CommittingSinkWriter<unknown, unknown>).prepareCommit());
      }
    }
    this.#committablesState.update(this.#pending.toState(this.#sink.committableCodec, this.#what));
    const ctx = this.ctx;
    this.#recordIdState.update([{ subtask: ctx.subtaskIndex, parallelism: ctx.parallelism, epoch: this.#epoch, next: this.#sequence }]);
    if (isStatefulSinkWriter<unknown, unknown>(writer)) {
      const codec = this.#sink.writerStateCodec;
      const states = (await writer.snapshotState(checkpointId)).map((s): WriterStateEntry => {
        const state = codec === undefined ? s : codec.toPlain(s);
        assertPlainData(state, `the writer state of ${this.#what}`, codec === undefined ? 'writerStateCodec' : undefined);
        return { version: codec?.version ?? 0, state };
      });
      this.#writerState.update(states);
    }
  }

  /** Commits every committable of checkpoints <= `checkpointId`; the task waits for it. */
  override notifyCheckpointComplete(checkpointId: CheckpointId): void | Promise<void> {
    if (checkpointId > this.#completedUpTo) this.#completedUpTo = checkpointId;
    if (this.#committer === undefined || !this.#pending.hasUpTo(this.#completedUpTo)) return;
    return this.#commit();
  }

  /** The task ends after the final checkpoint: commits asked to be retried are retried until done, none is left behind. */
  override async beforeEnd(): Promise<void> {
    if (this.#committer !== undefined && this.#pending.hasUpTo(this.#completedUpTo)) await this.#commitUntilDone();
  }

  /** An aborted checkpoint's committables stay and are committed with the next checkpoint that completes. */
  override notifyCheckpointAborted(): void {}

  /** One commit round of everything committable now, after any round under way; retries are scheduled. */
  #commit(): Promise<void> {
    const round = this.#commits.then(async () => {
      if (this.#closed) return;
      this.#retryTimer?.cancel();
      this.#retryTimer = undefined;
      const hook = faultHooks()?.commit;
      const ctx = this.ctx;
      const point = { taskName: ctx.taskName, vertexName: ctx.node.name, subtaskIndex: ctx.subtaskIndex, attemptNumber: ctx.attemptNumber, checkpointId: this.#completedUpTo as CheckpointId };
      hook?.({ ...point, phase: 'before' });
      const r = await this.#pending.commitUpTo(this.#committer!, this.#completedUpTo, this.#sink.maxCommitRetries ?? DEFAULT_MAX_RETRIES);
      if (r.attempted > 0) hook?.({ ...point, phase: 'after' });
      if (r.retrying > 0) this.#scheduleRetry();
    });
    // A failed round fails the task; later rounds must not run after it.
    this.#commits = round.catch(() => new Promise<void>(() => {}));
    this.#settled = round.then(
      () => {},
      () => {},
    );
    return round.catch((e: unknown) => {
      throw tagError(e, this.ctx);
    });
  }

  /** Committables asked to be retried are committed again after a delay, unless a completion commits them first. */
  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = this.ctx.scheduler.schedule(this.#sink.commitRetryDelayMs ?? DEFAULT_RETRY_DELAY_MS, () => {
      this.#retryTimer = undefined;
      if (this.#closed || !this.#pending.hasUpTo(this.#completedUpTo)) return;
      this.ctx.suspendUntil(this.#commit());
    });
  }

  // ---- end -------------------------------------------------------------------------------------

  /**
   * End of input: the writer's last flush and committables. With checkpointing they go into the
   * next checkpoint, which is the job's final one (FLIP-147): the job ends only after it
   * completed and they were committed. (With `checkpoints-after-tasks-finish` off there is no
   * such checkpoint, and they stay uncommitted, as in Flink.) Without checkpointing they are
   * committed now, retried until done.
   */
  override async finish(): Promise<void> {
    const writer = this.#writer!;
    if (this.#draining !== undefined) await this.#draining;
    await writer.flush(true);
    if (this.#committer === undefined) return;
    const last = await (writer as CommittingSinkWriter<unknown, unknown>).prepareCommit();
    if (this.ctx.config.get('execution.checkpointing.interval') !== undefined) {
      this.#endOfInput = [...last];
      return;
    }
    this.#pending.add(END_OF_INPUT_ID, last);
    this.#completedUpTo = END_OF_INPUT_ID;
    await this.#commitUntilDone();
  }

  /** Commit rounds of everything committable now until none is left, `commitRetryDelayMs` apart. */
  async #commitUntilDone(): Promise<void> {
    const delay = this.#sink.commitRetryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    for (;;) {
      await this.#commit();
      this.#retryTimer?.cancel();
      this.#retryTimer = undefined;
      if (!this.#pending.hasUpTo(this.#completedUpTo) || this.#closed) return;
      await sleep(this.ctx.scheduler, delay);
    }
  }

  /** Closes the writer and the committer once a commit under way has ended; no round starts after. */
  override async close(): Promise<void> {
    this.#closed = true;
    this.#retryTimer?.cancel();
    this.#retryTimer = undefined;
    await this.#settled;
    try {
      await this.#writer?.close();
    } finally {
      await this.#committer?.close?.();
    }
  }
}

/**
 * Flink's GenericWriteAheadSink, as a SinkFunction (the `addSink` shape): a sink for external
 * systems without transactions, which writes each checkpoint's records only once the checkpoint
 * completed, and records in an external store (a CheckpointCommitter) which checkpoints it wrote,
 * so that a replay never writes them again.
 *
 *  - records are held, per subtask, in memory; at checkpoint n's snapshot those that arrived since
 *    the previous snapshot become checkpoint n's values and are stored in the checkpoint (operator
 *    list state 'pending-checkpoints'), with the id of the subtask and job that took them;
 *  - when checkpoint n completes, for every held checkpoint <= n, oldest first: if the committer
 *    says it was committed, it is dropped; otherwise `sendValues` writes its values, and when it
 *    returns true the committer records the checkpoint as committed and it is dropped. When it
 *    returns false the values stay and are sent again at the next completion;
 *  - on a restore from checkpoint n the held checkpoints stored in it come back (they all
 *    completed: n or older) and are sent, or dropped as committed, at the next completed
 *    checkpoint, the final one included, as in Flink: not while the state is initialized, since
 *    `sendValues` may need what `open` sets up. Records after n are replayed.
 *
 * The guarantee is exactly-once only where writing a checkpoint's values and recording it
 * committed cannot be separated by a failure: either `sendValues` and `commitCheckpoint` are one
 * atomic step of the external system, or `sendValues` is idempotent for one checkpoint (the same
 * values under the same (job, subtask, checkpoint) key, e.g. one file or one upsert batch per
 * key), since after a failure between the two the values are sent again. Otherwise the window
 * between them is at-least-once, as in Flink.
 *
 * Keys: the committer is asked about (subtask, checkpoint, job) of the run that took the
 * snapshot, kept with the values, so the key survives a restore at another parallelism (the held
 * checkpoints move with the list state to other subtasks) and a restore into a new job (whose
 * checkpoint ids start again after the restored one).
 *
 * Values are held in memory and in checkpoints until their checkpoint completes: the memory and
 * checkpoint size grow with the records of one checkpoint interval. They must be plain data, or
 * the sink gives a codec (`valueCodec`).
 *
 * At the end of input the last records wait for the checkpoint after the end of input (Flink's
 * FLIP-147). A job without checkpointing has none: there they are sent at the end of input
 * (RuntimeContext.isCheckpointingEnabled()). Without checkpointing nothing is written before
 * the end of input.
 */
import type {
  CheckpointedFunction,
  CheckpointListener,
  FunctionInitializationContext,
  FunctionSnapshotContext,
  SinkContext,
} from './functions.ts';
import { RichSinkFunction } from './functions.ts';
import type { PlainDataCodec } from './sink.ts';
import { ListStateDescriptor, type ListState } from './state.ts';

/**
 * Records which checkpoints a write-ahead sink wrote, in the external system itself, so that it
 * survives failures of the job. Keys are (job, subtask, checkpoint) as described in the sink's
 * header. One committer object may serve several subtasks (those that share a thread in inline
 * mode run copies of one sink object): `open` and `close` are called by each, and the other
 * methods must not keep per-subtask state between calls.
 */
export abstract class CheckpointCommitter {
  /**
   * Creates what the committer needs in the external system (a table, a directory). Called by
   * every subtask before `open`, so it must succeed when the resource already exists.
   */
  abstract createResource(): void | Promise<void>;
  abstract open(): void | Promise<void>;
  abstract close(): void | Promise<void>;
  /** Records that the values of this checkpoint were written. */
  abstract commitCheckpoint(subtaskIdx: number, checkpointId: number, jobId: string): void | Promise<void>;
  /** Whether `commitCheckpoint` recorded this checkpoint before. */
  abstract isCheckpointCommitted(subtaskIdx: number, checkpointId: number, jobId: string): boolean | Promise<boolean>;
}

export interface GenericWriteAheadSinkOptions<IN> {
  /** When records are not plain data. */
  readonly valueCodec?: PlainDataCodec<IN> | undefined;
}

/** One held checkpoint, as stored in the list state. */
interface PendingCheckpoint {
  readonly checkpointId: number;
  /** The subtask and job that took the snapshot: the committer's key. */
  readonly subtask: number;
  readonly jobId: string;
  readonly timestamp: number;
  /** The values, as plain data (through the codec when there is one). */
  readonly values: unknown[];
  readonly codecVersion: number;
}

interface Subtask {
  readonly state: ListState<PendingCheckpoint>;
  /** Records since the last snapshot, as given. */
  buffer: unknown[];
  /** Held checkpoints, oldest first. */
  pending: PendingCheckpoint[];
  /** The context of the last record (for the time of a send at the end of input without checkpointing). */
  lastContext: SinkContext | undefined;
}

/** Names one checkpoint's values of one subtask: what the committer records, and an idempotent sendValues may use as its key. */
export interface CheckpointKey {
  /** The job that took the snapshot (a job restored from another job's checkpoint keeps that job's keys for the values it restored). */
  readonly jobId: string;
  /** The subtask that took the snapshot (not necessarily the one sending, after a rescaled restore). */
  readonly subtaskIdx: number;
  readonly checkpointId: number;
}

/** The checkpoint id passed to sendValues for records sent at the end of input of a job without checkpointing (ids start at 1). */
export const NO_CHECKPOINT_ID = 0;

export abstract class GenericWriteAheadSink<IN>
  extends RichSinkFunction<IN>
  implements CheckpointedFunction, CheckpointListener
{
  /** Own fields, not #private ones, so that shallow copies of the function (inline mode) keep them. */
  protected readonly committer: CheckpointCommitter;
  protected readonly writeAheadOptions: GenericWriteAheadSinkOptions<IN>;
  private writeAheadSubtask: Subtask | undefined;

  constructor(committer: CheckpointCommitter, options: GenericWriteAheadSinkOptions<IN> = {}) {
    super();
    this.committer = committer;
    this.writeAheadOptions = options;
  }

  /**
   * Writes the values of one completed checkpoint (in the order they arrived). Returns true when
   * they were written, false to be asked again at the next completed checkpoint; throwing fails
   * the job (a restore sends them again). See the header for when it must be idempotent: `key`
   * names these values uniquely (the same values always come with the same key), which Flink's
   * signature lacks; an external store can use it to make the write idempotent.
   */
  protected abstract sendValues(values: readonly IN[], checkpointId: number, timestamp: number, key: CheckpointKey): Promise<boolean>;

  invoke(value: IN, context: SinkContext): void {
    const s = requireSubtask(this, 'invoke');
    s.buffer.push(value);
    s.lastContext = context;
  }

  async initializeState(context: FunctionInitializationContext): Promise<void> {
    const state = context.getOperatorStateStore().getListState(new ListStateDescriptor<PendingCheckpoint>('pending-checkpoints'));
    const s: Subtask = { state, buffer: [], pending: [], lastContext: undefined };
    this.writeAheadSubtask = s;
    await this.committer.createResource();
    await this.committer.open();
    if (context.isRestored()) s.pending = [...state.get()].sort((a, b) => a.checkpointId - b.checkpointId);
  }

  snapshotState(context: FunctionSnapshotContext): void {
    const s = requireSubtask(this, 'snapshotState');
    if (s.buffer.length > 0) {
      const codec = this.writeAheadOptions.valueCodec;
      const rc = this.getRuntimeContext();
      s.pending.push({
        checkpointId: context.getCheckpointId(),
        subtask: rc.getIndexOfThisSubtask(),
        jobId: rc.getJobId(),
        timestamp: context.getCheckpointTimestamp(),
        values: codec === undefined ? s.buffer : s.buffer.map((v) => codec.toPlain(v as IN)),
        codecVersion: codec?.version ?? 0,
      });
      s.buffer = [];
    }
    // A fresh array: the backend may hold on to it until the snapshot is written.
    s.state.update([...s.pending]);
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await sendCompleted(this, requireSubtask(this, 'notifyCheckpointComplete'), checkpointId);
  }

  notifyCheckpointAborted(_checkpointId: number): void {}

  /** End of input: see the header. Without checkpointing the records are sent now, once; false from sendValues fails the job. */
  async finish(): Promise<void> {
    const s = requireSubtask(this, 'finish');
    if (this.getRuntimeContext().isCheckpointingEnabled()) return;
    if (s.buffer.length === 0) return;
    const values = s.buffer as IN[];
    s.buffer = [];
    const rc = this.getRuntimeContext();
    const key: CheckpointKey = { jobId: rc.getJobId(), subtaskIdx: rc.getIndexOfThisSubtask(), checkpointId: NO_CHECKPOINT_ID };
    const sent = await this.sendValues(values, NO_CHECKPOINT_ID, s.lastContext?.currentProcessingTime() ?? 0, key);
    if (!sent) {
      throw new Error(
        `${this.constructor.name}: sendValues refused the records at the end of input, and without checkpointing no later checkpoint would send them`,
      );
    }
  }

  override async close(): Promise<void> {
    if (this.writeAheadSubtask !== undefined) await this.committer.close();
  }
}

function requireSubtask(fn: object, what: string): Subtask {
  const s = (fn as { writeAheadSubtask?: Subtask }).writeAheadSubtask;
  if (s === undefined) throw new Error(`${fn.constructor.name}.${what}() called before initializeState()`);
  return s;
}

/**
 * Sends, oldest first, every held checkpoint up to `upTo` that was not committed, and drops those
 * written or committed before. The held list is updated after each checkpoint, so a send that
 * throws leaves exactly the checkpoints not yet written.
 */
async function sendCompleted<IN>(sink: GenericWriteAheadSink<IN>, s: Subtask, upTo: number): Promise<void> {
  const internals = sink as unknown as {
    committer: CheckpointCommitter;
    writeAheadOptions: GenericWriteAheadSinkOptions<IN>;
    sendValues(values: readonly IN[], checkpointId: number, timestamp: number, key: CheckpointKey): Promise<boolean>;
  };
  const codec = internals.writeAheadOptions.valueCodec;
  for (const p of [...s.pending]) {
    if (p.checkpointId > upTo) continue;
    let done = await internals.committer.isCheckpointCommitted(p.subtask, p.checkpointId, p.jobId);
    if (!done) {
      const values = codec === undefined ? (p.values as IN[]) : p.values.map((v) => codec.fromPlain(v, p.codecVersion));
      const key: CheckpointKey = { jobId: p.jobId, subtaskIdx: p.subtask, checkpointId: p.checkpointId };
      done = await internals.sendValues(values, p.checkpointId, p.timestamp, key);
      if (done) await internals.committer.commitCheckpoint(p.subtask, p.checkpointId, p.jobId);
    }
    if (done) s.pending = s.pending.filter((q) => q !== p);
  }
}

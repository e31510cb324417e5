/**
 * Flink's TwoPhaseCommitSinkFunction: the base of exactly-once SinkFunctions (the `addSink`
 * shape) over an external system with transactions. Subclasses say how to begin, write to,
 * pre-commit, commit and abort one transaction; the base decides when, from the checkpoints:
 *
 *  - a transaction is open from the start: every record goes into the current one;
 *  - at checkpoint n's snapshot the current transaction is pre-committed (flushed, made durable,
 *    still invisible), kept as pending under n, and a new one begins. The pending transactions,
 *    the new current one and the user context are stored in the checkpoint (operator list state
 *    'state');
 *  - when checkpoint n completes, every pending transaction of checkpoints <= n is committed, in
 *    checkpoint order, and forgotten. A commit that throws fails the job;
 *  - on a restore from checkpoint n, the pending transactions stored in it belong to checkpoints
 *    that completed, so they are committed (`recoverAndCommit`) before anything else: the ones the
 *    failed run committed already are committed again, so commits must be idempotent. The
 *    current transaction stored in it holds records after n, which the sources replay: it is
 *    aborted (`recoverAndAbort`). Then a new transaction begins;
 *  - at the end of input (`finish`) the current transaction is pre-committed and left for the
 *    checkpoint after the end of input to commit (Flink's FLIP-147). A job without checkpointing
 *    has no such checkpoint: there it is committed at once (RuntimeContext.isCheckpointingEnabled());
 *  - `close` aborts the current transaction, if one is still open (a cancelled or failed run).
 *
 * On a rescaled restore the stored states (one per old subtask) are split among the new
 * subtasks; each recovers every state it receives, so every old transaction is committed or
 * aborted exactly once by some subtask.
 *
 * Transactions and the user context travel inside checkpoints, so they must be plain data
 * (objects, arrays, strings, numbers, booleans, null, bigints, byte arrays), or the sink gives a
 * codec for them (`transactionCodec`, `contextCodec`).
 *
 * Per-subtask fields: in inline mode several subtasks may run shallow copies of one function
 * object, so the base keeps its per-subtask state in a record made in `initializeState`, and a
 * subclass makes its own per-subtask objects (connections, buffers) in `beginTransaction`, which
 * `initializeState` calls before `open`, never in its constructor. As in Flink, the recovery
 * (`recoverAndCommit`, `recoverAndAbort`) and the first `beginTransaction` run in
 * `initializeState`, before `open`.
 *
 * Flink overloads `invoke(txn, value, ctx)` next to the SinkFunction's `invoke(value, ctx)`;
 * TypeScript cannot, so the per-record method of a transaction is `invokeInTransaction`.
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


export interface TwoPhaseCommitSinkOptions<TXN, CONTEXT> {
  /** When transactions are not plain data. */
  readonly transactionCodec?: PlainDataCodec<TXN> | undefined;
  /** When the user context is not plain data. */
  readonly contextCodec?: PlainDataCodec<CONTEXT> | undefined;
}

/** One entry of the operator list state 'state': what one subtask stored at a checkpoint. */
interface StoredState {
  /** Pre-committed transactions by the checkpoint that pre-committed them, oldest first. */
  readonly pendingCommitTransactions: { readonly checkpointId: number; readonly transaction: unknown }[];
  /** The transaction open at the checkpoint (records after it); null when none was (after the end of input). */
  readonly pendingTransaction: { readonly transaction: unknown } | null;
  /** The user context, when the sink has one. */
  readonly context: { readonly value: unknown } | null;
  /** Versions of the codecs that wrote the transactions and the context (0 without a codec). */
  readonly transactionCodecVersion: number;
  readonly contextCodecVersion: number;
}

/** The per-subtask state of the base (see the header: made in initializeState). */
interface Subtask<TXN, CONTEXT> {
  readonly state: ListState<StoredState>;
  /** The transaction records go into; undefined after the end of input once a checkpoint took it, or after close. */
  current: TXN | undefined;
  /** Pre-committed transactions waiting for their checkpoint to complete, by checkpoint id in increasing order. */
  readonly pending: Map<number, TXN>;
  userContext: CONTEXT | undefined;
  /** Set by finish(): the current transaction is pre-committed and takes no more records. */
  finished: boolean;
}

export abstract class TwoPhaseCommitSinkFunction<IN, TXN, CONTEXT = void>
  extends RichSinkFunction<IN>
  implements CheckpointedFunction, CheckpointListener
{
  /**
   * The options given to the constructor. Fields here are plain own fields, not #private ones:
   * shallow copies of the function (inline mode) keep own fields, and #private members would
   * fail their brand check on a copy.
   */
  protected readonly twoPhaseCommitOptions: TwoPhaseCommitSinkOptions<TXN, CONTEXT>;
  /** This subtask's state, made in initializeState (so copies never share it). */
  private twoPhaseCommitSubtask: Subtask<TXN, CONTEXT> | undefined;

  constructor(options: TwoPhaseCommitSinkOptions<TXN, CONTEXT> = {}) {
    super();
    this.twoPhaseCommitOptions = options;
  }

  // ---- the transaction contract ------------------------------------------------------------

  /** Starts a new transaction. Called at the start, after every checkpoint's snapshot, and after a restore. */
  protected abstract beginTransaction(): TXN | Promise<TXN>;

  /**
   * Writes one record into the transaction. (Flink overloads `invoke` for this; here `invoke` is
   * the SinkFunction method the runtime calls, which hands the record to this one.)
   */
  protected abstract invokeInTransaction(transaction: TXN, value: IN, context: SinkContext): void | Promise<void>;

  /**
   * Makes everything written to the transaction durable, still invisible: after it returns, a
   * commit must be able to succeed even after a crash of this process. No record is added to the
   * transaction afterwards.
   */
  protected abstract preCommit(transaction: TXN): void | Promise<void>;

  /**
   * Makes a pre-committed transaction visible. Must be idempotent where `recoverAndCommit` is not
   * overridden: a restore commits again the transactions of the restored checkpoint, some of
   * which the failed run may have committed already.
   */
  protected abstract commit(transaction: TXN): void | Promise<void>;

  /** Discards a transaction: nothing written to it ever becomes visible. */
  protected abstract abort(transaction: TXN): void | Promise<void>;

  /**
   * Commits a pre-committed transaction restored from a checkpoint (default: `commit`). It may
   * have been committed already by the run that failed, so this must then succeed without making
   * its records visible twice. Throwing fails the restore, which is tried again.
   */
  protected recoverAndCommit(transaction: TXN): void | Promise<void> {
    return this.commit(transaction);
  }

  /** Aborts the open transaction restored from a checkpoint (default: `abort`); its records are replayed. */
  protected recoverAndAbort(transaction: TXN): void | Promise<void> {
    return this.abort(transaction);
  }

  /** The user context of a fresh start, or of a restore whose state held none (default: none). */
  protected initializeUserContext(): CONTEXT | undefined {
    return undefined;
  }

  /**
   * Called on a restore after the transactions of one restored state that held a user context
   * were committed and aborted, with those transactions (e.g. to clean up what they left).
   */
  protected finishRecoveringContext(_handledTransactions: readonly TXN[]): void | Promise<void> {}

  // ---- what subclasses may read ----------------------------------------------------------------

  /** The transaction records go into now; undefined before initializeState and after close. */
  protected currentTransaction(): TXN | undefined {
    return this.twoPhaseCommitSubtask?.current;
  }

  /** Pre-committed transactions waiting for their checkpoint to complete, by checkpoint id. */
  protected pendingTransactions(): ReadonlyMap<number, TXN> {
    return this.twoPhaseCommitSubtask?.pending ?? new Map();
  }

  protected getUserContext(): CONTEXT | undefined {
    return this.twoPhaseCommitSubtask?.userContext;
  }

  // ---- the SinkFunction, CheckpointedFunction and CheckpointListener contracts ---------------

  invoke(value: IN, context: SinkContext): void | Promise<void> {
    const s = requireSubtask<TXN, CONTEXT>(this, 'invoke');
    if (s.finished || s.current === undefined) {
      throw new Error(`${this.constructor.name}: a record arrived after the end of input`);
    }
    return this.invokeInTransaction(s.current, value, context);
  }

  async initializeState(context: FunctionInitializationContext): Promise<void> {
    const state = context.getOperatorStateStore().getListState(new ListStateDescriptor<StoredState>('state'));
    const s: Subtask<TXN, CONTEXT> = { state, current: undefined, pending: new Map(), userContext: undefined, finished: false };
    this.twoPhaseCommitSubtask = s;
    let recoveredContext = false;
    if (context.isRestored()) {
      for (const stored of state.get()) {
        const handled: TXN[] = [];
        if (stored.context !== null) s.userContext = decode(this.twoPhaseCommitOptions.contextCodec, stored.context.value, stored.contextCodecVersion);
        // Transactions of the restored checkpoint (and older ones it still held): their checkpoints completed.
        for (const p of stored.pendingCommitTransactions) {
          const txn = decode(this.twoPhaseCommitOptions.transactionCodec, p.transaction, stored.transactionCodecVersion);
          await this.recoverAndCommit(txn);
          handled.push(txn);
        }
        // The transaction open at the checkpoint: its records come again from the replay.
        if (stored.pendingTransaction !== null) {
          const txn = decode(this.twoPhaseCommitOptions.transactionCodec, stored.pendingTransaction.transaction, stored.transactionCodecVersion);
          await this.recoverAndAbort(txn);
          handled.push(txn);
        }
        if (stored.context !== null) {
          await this.finishRecoveringContext(handled);
          recoveredContext = true;
        }
      }
    }
    if (!recoveredContext) s.userContext = this.initializeUserContext();
    // Until the first snapshot the state holds what was restored; the first snapshot replaces it.
    s.current = await this.beginTransaction();
  }

  async snapshotState(context: FunctionSnapshotContext): Promise<void> {
    const s = requireSubtask<TXN, CONTEXT>(this, 'snapshotState');
    const checkpointId = context.getCheckpointId();
    if (s.current !== undefined) {
      // After the end of input the current transaction was pre-committed by finish().
      if (!s.finished) await this.preCommit(s.current);
      s.pending.set(checkpointId, s.current);
      s.current = s.finished ? undefined : await this.beginTransaction();
    }
    const tc = this.twoPhaseCommitOptions.transactionCodec;
    const cc = this.twoPhaseCommitOptions.contextCodec;
    const encode = (txn: TXN): unknown => (tc === undefined ? txn : tc.toPlain(txn));
    s.state.update([
      {
        pendingCommitTransactions: [...s.pending].map(([id, txn]) => ({ checkpointId: id, transaction: encode(txn) })),
        pendingTransaction: s.current === undefined ? null : { transaction: encode(s.current) },
        context: s.userContext === undefined ? null : { value: cc === undefined ? s.userContext : cc.toPlain(s.userContext) },
        transactionCodecVersion: tc?.version ?? 0,
        contextCodecVersion: cc?.version ?? 0,
      },
    ]);
  }

  /**
   * Commits, in checkpoint order, every pending transaction of checkpoints up to `checkpointId`
   * (a completion also completes the older checkpoints whose notifications were lost or aborted).
   * The first commit that throws fails the job after the others were tried; the restore commits
   * the failed ones again through `recoverAndCommit`. Failed ones stay pending until then, so that
   * a snapshot taken before the job fails would still hold them.
   */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const s = requireSubtask<TXN, CONTEXT>(this, 'notifyCheckpointComplete');
    let failure: { error: unknown } | undefined;
    for (const [id, txn] of [...s.pending]) {
      if (id > checkpointId) break;
      try {
        await this.commit(txn);
        s.pending.delete(id);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) {
      throw new Error(`${this.constructor.name}: committing a transaction of checkpoint ${checkpointId} or earlier failed`, {
        cause: failure.error,
      });
    }
  }

  /** An aborted checkpoint changes nothing: its pending transaction is committed with the next completed one. */
  notifyCheckpointAborted(_checkpointId: number): void {}

  /**
   * End of input: the current transaction is pre-committed and takes no more records. With
   * checkpointing it waits for the checkpoint after the end of input; without, it is committed
   * here: committing at once in a checkpointed job would be wrong (a failure before the job ends
   * restores the last checkpoint and replays what followed it, which would be visible twice).
   */
  async finish(): Promise<void> {
    const s = requireSubtask<TXN, CONTEXT>(this, 'finish');
    if (s.finished || s.current === undefined) return;
    await this.preCommit(s.current);
    s.finished = true;
    if (this.getRuntimeContext().isCheckpointingEnabled()) return;
    const txn = s.current;
    s.current = undefined;
    await this.commit(txn);
  }

  /**
   * Aborts the current transaction if it was never handed to a checkpoint: a cancelled or failed
   * run, or a finished one whose last checkpoint never came. Pending transactions are left alone:
   * they belong to checkpoints, and a restore of those commits them.
   */
  override async close(): Promise<void> {
    const s = this.twoPhaseCommitSubtask;
    if (s?.current === undefined) return;
    const txn = s.current;
    s.current = undefined;
    await this.abort(txn);
  }
}

function requireSubtask<TXN, CONTEXT>(fn: object, what: string): Subtask<TXN, CONTEXT> {
  const s = (fn as unknown as { twoPhaseCommitSubtask: Subtask<TXN, CONTEXT> | undefined }).twoPhaseCommitSubtask;
  if (s === undefined) throw new Error(`${fn.constructor.name}.${what}() called before initializeState()`);
  return s;
}

function decode<T>(codec: PlainDataCodec<T> | undefined, plain: unknown, version: number): T {
  return codec === undefined ? (plain as T) : codec.fromPlain(plain, version);
}

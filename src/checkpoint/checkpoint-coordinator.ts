/**
 * Triggers, tracks and completes a job's checkpoints (Flink's CheckpointCoordinator, for
 * asynchronous barrier snapshots).
 *
 * A checkpoint starts when the coordinator asks the sources to inject barrier `n`; it is
 * complete once every subtask has acknowledged `n` and its metadata has been persisted. At
 * most one outcome reaches the rest of the system per checkpoint: either
 * `notifyCheckpointComplete(n)` after the metadata is durable, or `notifyCheckpointAborted(n)`.
 *
 * Time is injected: the coordinator reads only `scheduler.now()` and sets timers only through
 * `scheduler.schedule`, so a ManualScheduler drives it deterministically.
 */

import { asCheckpointId } from '../core/ids.ts';
import { CheckpointException, subtaskKeyString } from './checkpoint-types.ts';
import type {
  CheckpointFailureReason,
  CheckpointId,
  CheckpointMetadata,
  SubtaskAcknowledgement,
  SubtaskKey,
} from './checkpoint-types.ts';
import { CheckpointFailureManager } from './checkpoint-failure-manager.ts';
import { CheckpointStatsTracker } from './checkpoint-stats.ts';
import { PendingCheckpoint, type PendingCheckpointOptions } from './pending-checkpoint.ts';
import type { CompletedCheckpointHandle, OperatorDescriptor, SavepointTarget } from './pending-checkpoint.ts';
import type { Cancellable, Scheduler } from '../core/time.ts';

export type { CompletedCheckpointHandle, OperatorDescriptor, SavepointTarget } from './pending-checkpoint.ts';

/** What the job is asked to do for one checkpoint; plain data, so it can travel to the tasks. */
export interface CheckpointTriggerOptions {
  readonly isSavepoint: boolean;
  /** Where every subtask writes its state files: the savepoint directory. Absent for checkpoints. */
  readonly savepointDir?: string;
  /**
   * Stop-with-savepoint: sources emit nothing after their barrier and the job ends when the
   * savepoint completes; with `drain`, sources first emit the maximal watermark.
   */
  readonly stop?: { readonly drain: boolean };
  /** A checkpoint that must not depend on earlier ones (`weir checkpoint --full`); absent unless asked for. */
  readonly full?: boolean;
}

/** A manual trigger. */
export interface CheckpointRequest {
  readonly isSavepoint?: boolean;
  /** A full checkpoint (`weir checkpoint --full`); ignored for savepoints, which are always full. */
  readonly full?: boolean;
  /** A savepoint with its own directory: finalised and discarded through it, not the finalizer. */
  readonly savepoint?: SavepointTarget;
  /** Stop-with-savepoint (implies a savepoint); see CheckpointTriggerOptions.stop. */
  readonly stop?: { readonly drain: boolean };
}

/** What the coordinator needs from the running job. */
export interface CheckpointGateway {
  /**
   * Ask the sources to inject barrier `checkpointId` (timestamp = trigger time). May throw or
   * reject: the checkpoint then fails with IO_EXCEPTION.
   */
  triggerCheckpoint(checkpointId: CheckpointId, timestamp: number, options: CheckpointTriggerOptions): void | Promise<void>;
  notifyCheckpointComplete(checkpointId: CheckpointId): void;
  notifyCheckpointAborted(checkpointId: CheckpointId): void;
  /** Called when consecutive failures exceed the tolerable number: the job must fail over with this error. */
  failJob(error: Error): void;
}

/** Persists a completed checkpoint's metadata. */
export interface CheckpointFinalizer {
  /** Rejects on I/O failure; the checkpoint then fails with FINALIZE_CHECKPOINT_FAILURE. */
  finalize(metadata: CheckpointMetadata): Promise<{ dir: string }>;
  /** Best-effort removal of whatever a failed checkpoint wrote. */
  discard(checkpointId: CheckpointId): Promise<void>;
}

export interface CompletedCheckpointInfo {
  readonly checkpointId: CheckpointId;
  readonly timestamp: number;
  readonly dir: string;
  readonly metadata: CheckpointMetadata;
  /** Sum of the state sizes the subtasks reported, bytes. */
  readonly stateSize: number;
}

export interface CheckpointCoordinatorOptions {
  readonly jobId: string;
  readonly scheduler: Scheduler;
  readonly gateway: CheckpointGateway;
  readonly finalizer: CheckpointFinalizer;
  /** Every subtask that must acknowledge a checkpoint. */
  readonly tasks: readonly SubtaskKey[];
  /** Per vertex, the operator metadata skeleton the acknowledged state is assembled into. */
  readonly operators: readonly OperatorDescriptor[];
  /** Periodic trigger interval, ms; undefined: no periodic checkpoints (manual ones and savepoints only). */
  readonly intervalMs: number | undefined;
  /** A checkpoint not completed this long after its trigger expires, ms. */
  readonly timeoutMs: number;
  /** Least time between the end of one checkpoint and the periodic start of the next, ms; > 0 forces max concurrency 1. */
  readonly minPauseMs: number;
  /** Most checkpoints pending at once before periodic triggers wait. */
  readonly maxConcurrent: number;
  /** Consecutive counted failures tolerated before `failJob`; a non-negative integer or Infinity. */
  readonly tolerableFailures: number;
  /**
   * Called after a checkpoint's metadata is persisted and before the job is told it completed
   * (e.g. to add it to a CompletedCheckpointStore). If it throws or rejects, the checkpoint
   * fails with FINALIZE_CHECKPOINT_FAILURE instead. Not called for savepoints written to their
   * own target: those are the user's, not the job's.
   */
  onCompleted?(c: CompletedCheckpointInfo): void | Promise<void>;
  /** First checkpoint id minus one (a restored job continues after the restored id). Default 0. */
  readonly startAfterId?: number;
  /** How many checkpoints the stats history keeps. Default 10. */
  readonly statsHistorySize?: number;
  /**
   * Receives errors thrown by the gateway's notification methods and by `finalizer.discard`.
   * Those are best effort and never change a checkpoint's outcome. Default: ignore.
   */
  onCallbackError?(error: unknown, context: string): void;
}

/** What an acknowledgement did. */
export type AckResult =
  /** Recorded; the checkpoint may have become complete. */
  | 'SUCCESS'
  /** This subtask had already acknowledged this checkpoint; nothing changed. The caller must keep the state (it belongs to the checkpoint). */
  | 'DUPLICATE'
  /** Never-triggered id, an id the coordinator no longer remembers, or a subtask the job does not have. */
  | 'UNKNOWN'
  /** The checkpoint was aborted; the acknowledged state belongs to no checkpoint and may be deleted. */
  | 'DISCARDED';

/** What a decline did. */
export type DeclineResult =
  /** The checkpoint was pending and is now aborted. */
  | 'ABORTED'
  /** Never-triggered id, a subtask the job does not have, or a checkpoint that already ended. */
  | 'IGNORED';

/** How many ended checkpoints are remembered to classify late acknowledgements. */
const RECENT_OUTCOMES = 64;

type CoordinatorState = 'RUNNING' | 'SHUTTING_DOWN' | 'SHUT_DOWN';

export class CheckpointCoordinator {
  readonly stats: CheckpointStatsTracker;

  readonly #jobId: string;
  readonly #scheduler: Scheduler;
  readonly #gateway: CheckpointGateway;
  readonly #finalizer: CheckpointFinalizer;
  readonly #tasks: readonly SubtaskKey[];
  readonly #taskKeys: ReadonlySet<string>;
  readonly #operators: readonly OperatorDescriptor[];
  readonly #intervalMs: number | undefined;
  readonly #timeoutMs: number;
  readonly #minPauseMs: number;
  readonly #maxConcurrent: number;
  readonly #onCompleted: CheckpointCoordinatorOptions['onCompleted'];
  readonly #onCallbackError: (error: unknown, context: string) => void;
  readonly #failureManager: CheckpointFailureManager;

  #state: CoordinatorState = 'RUNNING';
  #lastIssuedId: CheckpointId;
  #latestCompletedId: CheckpointId | undefined;
  /** The newest checkpoint (not savepoint) whose completion began: an older one finishing later is subsumed by it. */
  #newestCommittingId = 0;
  /** Pending checkpoints in id (= trigger) order. */
  readonly #pending = new Map<CheckpointId, PendingCheckpoint>();
  /** Outcome of the most recently ended checkpoints, oldest first. */
  readonly #recent = new Map<CheckpointId, 'COMPLETED' | 'ABORTED'>();
  /** When the latest checkpoint completed or failed; the min pause counts from here. */
  #lastEndTime: number | undefined;
  #periodicActive = false;
  #periodicTimer: Cancellable | undefined;
  /** A periodic trigger was skipped for lack of a concurrency slot and runs once one frees. */
  #periodicWaitingForSlot = false;

  constructor(o: CheckpointCoordinatorOptions) {
    if (o.intervalMs !== undefined) requireNumber('intervalMs', o.intervalMs, (v) => Number.isFinite(v) && v > 0, 'a positive number');
    requireNumber('timeoutMs', o.timeoutMs, (v) => Number.isFinite(v) && v > 0, 'a positive number');
    requireNumber('minPauseMs', o.minPauseMs, (v) => Number.isFinite(v) && v >= 0, 'a non-negative number');
    requireNumber('maxConcurrent', o.maxConcurrent, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
    const startAfterId = o.startAfterId ?? 0;
    requireNumber('startAfterId', startAfterId, (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
    const operatorIds = new Set<string>();
    for (const op of o.operators) {
      if (operatorIds.has(op.operatorId)) throw new RangeError(`operator ${op.operatorId} is listed twice`);
      operatorIds.add(op.operatorId);
    }

    this.#jobId = o.jobId;
    this.#scheduler = o.scheduler;
    this.#gateway = o.gateway;
    this.#finalizer = o.finalizer;
    this.#tasks = [...o.tasks];
    this.#taskKeys = new Set(o.tasks.map(subtaskKeyString));
    this.#operators = [...o.operators];
    this.#intervalMs = o.intervalMs;
    this.#timeoutMs = o.timeoutMs;
    this.#minPauseMs = o.minPauseMs;
    // A min pause only makes sense between consecutive checkpoints, so it rules out overlap (as Flink).
    this.#maxConcurrent = o.minPauseMs > 0 ? 1 : o.maxConcurrent;
    this.#onCompleted = o.onCompleted?.bind(o);
    this.#onCallbackError = o.onCallbackError?.bind(o) ?? (() => {});
    this.#lastIssuedId = startAfterId as CheckpointId;
    this.#failureManager = new CheckpointFailureManager(o.tolerableFailures, (error) => {
      if (this.#state === 'SHUT_DOWN') return;
      this.#callSafely('failJob', () => this.#gateway.failJob(error));
    });
    this.stats = new CheckpointStatsTracker(o.statsHistorySize === undefined ? {} : { historySize: o.statsHistorySize });
  }

  // ------------------------------------------------------------------ triggering

  /**
   * Starts periodic triggering: the first trigger comes `intervalMs` from now, then one every
   * `intervalMs`, each subject to the concurrency limit and the min pause. Idempotent; nothing
   * happens without an interval.
   */
  startPeriodic(): void {
    if (this.#state !== 'RUNNING' || this.#periodicActive || this.#intervalMs === undefined) return;
    this.#periodicActive = true;
    this.#schedulePeriodic(this.#intervalMs);
  }

  /** Stops periodic triggering; pending checkpoints carry on. Idempotent. */
  stopPeriodic(): void {
    this.#periodicActive = false;
    this.#periodicWaitingForSlot = false;
    this.#periodicTimer?.cancel();
    this.#periodicTimer = undefined;
  }

  /**
   * Triggers a checkpoint now, regardless of the interval, the concurrency limit and the min
   * pause (a manual request is an explicit decision). Resolves once it completes; rejects with
   * the CheckpointException that aborted it, or CHECKPOINT_COORDINATOR_SHUTDOWN after shutdown.
   *
   * Savepoints stand beside the checkpoint sequence (as Flink's): they take the next id but
   * neither subsume nor are subsumed, and their failures are not counted. One with a `savepoint`
   * target is written there and never reaches `onCompleted`. Only a stopping savepoint is
   * announced to the tasks on completion, because the job ends with it.
   */
  triggerCheckpoint(options: CheckpointRequest = {}): Promise<CompletedCheckpointHandle> {
    if (this.#state !== 'RUNNING') {
      return Promise.reject(new CheckpointException('CHECKPOINT_COORDINATOR_SHUTDOWN'));
    }
    const pending: PendingCheckpointOptions = { isSavepoint: options.isSavepoint ?? false };
    return this.#trigger({
      ...pending,
      ...(options.savepoint ? { savepoint: options.savepoint } : {}),
      ...(options.stop ? { stop: { drain: options.stop.drain } } : {}),
    }, options.full === true).whenSettled();
  }

  #schedulePeriodic(delayMs: number): void {
    this.#periodicTimer?.cancel();
    this.#periodicTimer = this.#scheduler.schedule(delayMs, () => this.#onPeriodicTick());
  }

  #onPeriodicTick(): void {
    this.#periodicTimer = undefined;
    if (!this.#periodicActive || this.#state !== 'RUNNING') return;
    if (this.#pending.size >= this.#maxConcurrent) {
      // Skipped; #onCheckpointEnded re-arms the trigger when a slot frees.
      this.#periodicWaitingForSlot = true;
      return;
    }
    const pause = this.#remainingPause();
    if (pause > 0) {
      this.#schedulePeriodic(pause);
      return;
    }
    this.#schedulePeriodic(this.#intervalMs!);
    this.#trigger({ isSavepoint: false });
  }

  /** How long the min pause still holds back a periodic trigger, ms. */
  #remainingPause(): number {
    if (this.#lastEndTime === undefined) return 0;
    return Math.max(0, this.#lastEndTime + this.#minPauseMs - this.#scheduler.now());
  }

  /**
   * Starts checkpoint `lastIssuedId + 1`. The pending checkpoint exists before the gateway is
   * called, because subtasks may acknowledge before the trigger call returns.
   */
  #trigger(options: PendingCheckpointOptions, full = false): PendingCheckpoint {
    const id = asCheckpointId(this.#lastIssuedId + 1);
    this.#lastIssuedId = id;
    const timestamp = this.#scheduler.now();
    const p = new PendingCheckpoint(id, timestamp, options, this.#tasks);
    const isSavepoint = p.isSavepoint;
    this.#pending.set(id, p);
    this.stats.reportPending(id, timestamp, isSavepoint, p.numTasks, options.stop !== undefined);
    p.setTimeout(
      this.#scheduler.schedule(this.#timeoutMs, () => {
        const detail = `Checkpoint ${id} expired after ${this.#timeoutMs} ms with ${p.numAcknowledged} of ${p.numTasks} subtasks acknowledged.`;
        this.#abortFromOutside(p, new CheckpointException('CHECKPOINT_EXPIRED', detail), true);
      }),
    );
    const triggerFailed = (cause: unknown): void => {
      const detail = `Triggering checkpoint ${id} failed: ${messageOf(cause)}`;
      this.#abortFromOutside(p, new CheckpointException('IO_EXCEPTION', detail, { cause }), true);
    };
    try {
      const result = this.#gateway.triggerCheckpoint(id, timestamp, {
        isSavepoint,
        ...(p.savepoint ? { savepointDir: p.savepoint.dir } : {}),
        ...(p.stop ? { stop: p.stop } : {}),
        ...(full && !isSavepoint ? { full: true } : {}),
      });
      if (isThenable(result)) result.then(undefined, triggerFailed);
    } catch (e) {
      triggerFailed(e);
    }
    // A job with nothing to acknowledge is complete as soon as it is triggered.
    if (p.phase === 'ACKNOWLEDGING' && p.isFullyAcknowledged) void this.#complete(p);
    return p;
  }

  // ------------------------------------------------------------------ acknowledgements

  /** Records a subtask's acknowledgement; the last one required starts completion. */
  acknowledge(ack: SubtaskAcknowledgement): AckResult {
    if (!this.#taskKeys.has(subtaskKeyString(ack.subtask))) return 'UNKNOWN';
    const p = this.#pending.get(ack.checkpointId);
    if (!p) return this.#lateResult(ack.checkpointId);
    const outcome = p.acknowledge(ack);
    if (outcome !== 'SUCCESS') return outcome;
    this.stats.reportAcknowledged(p.checkpointId, ack.subtask, this.#scheduler.now(), ack.metrics);
    if (p.phase === 'ACKNOWLEDGING' && p.isFullyAcknowledged) void this.#complete(p);
    return 'SUCCESS';
  }

  /**
   * A subtask could not take its part of the checkpoint: the checkpoint fails with `reason`
   * (default CHECKPOINT_DECLINED) and a message that includes the cause.
   */
  decline(
    checkpointId: CheckpointId,
    subtask: SubtaskKey,
    cause: Error,
    reason: CheckpointFailureReason = 'CHECKPOINT_DECLINED',
  ): DeclineResult {
    if (!this.#taskKeys.has(subtaskKeyString(subtask))) return 'IGNORED';
    const p = this.#pending.get(checkpointId);
    if (!p || !p.isAbortable) return 'IGNORED';
    const detail = `Subtask ${subtaskKeyString(subtask)} declined checkpoint ${checkpointId}: ${cause.message}`;
    this.#abortFromOutside(p, new CheckpointException(reason, detail, { cause }), true);
    return 'ABORTED';
  }

  /** Classifies an acknowledgement for a checkpoint that is not pending. */
  #lateResult(checkpointId: CheckpointId): AckResult {
    const ended = this.#recent.get(checkpointId);
    // Every required subtask acknowledged a completed checkpoint, so a known subtask repeats itself.
    if (ended === 'COMPLETED') return 'DUPLICATE';
    if (ended === 'ABORTED') return 'DISCARDED';
    return 'UNKNOWN';
  }

  // ------------------------------------------------------------------ completion

  /**
   * Finalises a fully acknowledged checkpoint: assemble and persist the metadata, hand it to
   * `onCompleted`, then tell the job. Any failure on the way aborts it with
   * FINALIZE_CHECKPOINT_FAILURE.
   */
  async #complete(p: PendingCheckpoint): Promise<void> {
    p.beginFinalizing();
    const id = p.checkpointId;
    let metadata: CheckpointMetadata;
    let dir: string;
    try {
      metadata = p.buildMetadata(this.#jobId, this.#operators);
      dir = p.savepoint ? await p.savepoint.writeMetadata(metadata) : (await this.#finalizer.finalize(metadata)).dir;
    } catch (e) {
      if (!p.isAbortable) {
        // Already aborted while writing; the abort's discard may have raced the failed write.
        this.#discard(p);
        return;
      }
      const detail = `Finalizing checkpoint ${id} failed: ${messageOf(e)}`;
      this.#abort(p, new CheckpointException('FINALIZE_CHECKPOINT_FAILURE', detail, { cause: e }), true);
      return;
    }
    if (!p.isAbortable) {
      // Aborted (expired, subsumed, shut down...) while the metadata was being written: the
      // abort's discard may have run before the write finished, so remove the result again.
      this.#discard(p);
      return;
    }
    if (!p.isSavepoint && id < this.#newestCommittingId) {
      // Two checkpoints finalized at once (a manual trigger beside a periodic one) and the newer
      // one got here first: this one is subsumed, as it would have been had it been pending.
      const detail = `Checkpoint ${id} was subsumed by completed checkpoint ${this.#newestCommittingId}.`;
      this.#abort(p, new CheckpointException('CHECKPOINT_SUBSUMED', detail), false);
      return;
    }
    if (!p.isSavepoint) this.#newestCommittingId = id;
    p.beginCommitting();
    const stateSize = p.stateSize;
    try {
      // A savepoint with its own directory belongs to the user: it is not one of the job's checkpoints.
      if (!p.savepoint) await this.#onCompleted?.({ checkpointId: id, timestamp: p.timestamp, dir, metadata, stateSize });
    } catch (e) {
      const detail = `Completing checkpoint ${id} failed: ${messageOf(e)}`;
      this.#abort(p, new CheckpointException('FINALIZE_CHECKPOINT_FAILURE', detail, { cause: e }), true);
      return;
    }

    const now = this.#scheduler.now();
    p.complete(dir);
    this.#pending.delete(id);
    this.#remember(id, 'COMPLETED');
    if (this.#latestCompletedId === undefined || id > this.#latestCompletedId) this.#latestCompletedId = id;
    this.stats.reportCompleted(id, now, dir);
    this.#failureManager.handleCheckpointSuccess(id);
    // Savepoints stand beside the checkpoint sequence (as Flink): they neither subsume older
    // checkpoints nor are they announced to the tasks, so sinks do not commit on them; a
    // stopping savepoint is the exception, as the job ends with it.
    if (p.stop && this.#state !== 'SHUT_DOWN') {
      this.#callSafely('notifyCheckpointComplete', () => this.#gateway.notifyCheckpointComplete(id));
    }
    if (!p.isSavepoint) {
      for (const older of [...this.#pending.values()]) {
        if (older.checkpointId < id && !older.isSavepoint && older.isAbortable) {
          const detail = `Checkpoint ${older.checkpointId} was subsumed by completed checkpoint ${id}.`;
          this.#abortFromOutside(older, new CheckpointException('CHECKPOINT_SUBSUMED', detail), false);
        }
      }
      if (this.#state !== 'SHUT_DOWN') {
        this.#callSafely('notifyCheckpointComplete', () => this.#gateway.notifyCheckpointComplete(id));
      }
    }
    this.#onCheckpointEnded(now);
  }

  // ------------------------------------------------------------------ aborting

  /**
   * Aborts every pending checkpoint with `reason` (e.g. TASK_FAILURE on failover). These
   * aborts never count against the tolerable failures: the job's own failure is the cause.
   * Checkpoints whose metadata is already persisted finish completing.
   */
  abortPending(reason: CheckpointFailureReason): void {
    for (const p of [...this.#pending.values()]) {
      if (p.isAbortable) this.#abortFromOutside(p, new CheckpointException(reason), false);
    }
  }

  /** Stops triggering and aborts pending checkpoints with CHECKPOINT_COORDINATOR_SHUTDOWN. Idempotent. */
  shutdown(): void {
    if (this.#state !== 'RUNNING') return;
    this.#state = 'SHUTTING_DOWN';
    this.stopPeriodic();
    this.abortPending('CHECKPOINT_COORDINATOR_SHUTDOWN');
    // From here on, late events (acks, finalizations, expiries) change no outcome and call no gateway method.
    this.#state = 'SHUT_DOWN';
  }

  /** An abort requested by an event outside the completion path; ignored once the metadata is persisted. */
  #abortFromOutside(p: PendingCheckpoint, error: CheckpointException, counted: boolean): void {
    if (p.isAbortable) this.#abort(p, error, counted);
  }

  /**
   * Ends `p` as failed: forget it as pending, discard what it wrote, tell the job and the
   * stats, and let the failure manager count it when `counted`.
   */
  #abort(p: PendingCheckpoint, error: CheckpointException, counted: boolean): void {
    if (p.abort(error) === 'ALREADY_SETTLED') return;
    const id = p.checkpointId;
    const now = this.#scheduler.now();
    this.#pending.delete(id);
    this.#remember(id, 'ABORTED');
    this.stats.reportFailed(id, now, error.message);
    this.#discard(p);
    if (this.#state !== 'SHUT_DOWN') {
      this.#callSafely('notifyCheckpointAborted', () => this.#gateway.notifyCheckpointAborted(id));
    }
    if (counted) this.#failureManager.handleCheckpointFailure(error, id, p.isSavepoint);
    this.#onCheckpointEnded(now);
  }

  /** A checkpoint ended at `now`: start the min pause and re-arm a periodic trigger that waited for a slot. */
  #onCheckpointEnded(now: number): void {
    this.#lastEndTime = Math.max(this.#lastEndTime ?? now, now);
    if (!this.#periodicWaitingForSlot || !this.#periodicActive || this.#state !== 'RUNNING') return;
    if (this.#pending.size >= this.#maxConcurrent) return;
    this.#periodicWaitingForSlot = false;
    // Through the scheduler rather than inline: this runs inside an ack, decline or timer callback.
    this.#schedulePeriodic(this.#remainingPause());
  }

  /** Removes what a failed checkpoint wrote: its chk-<n> files, or the savepoint's own directory. */
  #discard(p: PendingCheckpoint): void {
    const id = p.checkpointId;
    const what = p.savepoint ? `discard savepoint ${id} (${p.savepoint.dir})` : `discard checkpoint ${id}`;
    try {
      const done = p.savepoint ? p.savepoint.discard() : this.#finalizer.discard(id);
      done.catch((e: unknown) => this.#onCallbackError(e, what));
    } catch (e) {
      this.#onCallbackError(e, what);
    }
  }

  #remember(id: CheckpointId, outcome: 'COMPLETED' | 'ABORTED'): void {
    this.#recent.set(id, outcome);
    if (this.#recent.size > RECENT_OUTCOMES) {
      const oldest = this.#recent.keys().next();
      if (!oldest.done) this.#recent.delete(oldest.value);
    }
  }

  #callSafely(context: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#onCallbackError(e, context);
    }
  }

  // ------------------------------------------------------------------ queries

  /** Checkpoints triggered and not yet completed or aborted, including those being finalised. */
  numPending(): number {
    return this.#pending.size;
  }

  /** The highest id this coordinator completed; undefined before its first completion (a restored id does not count). */
  latestCompletedId(): CheckpointId | undefined {
    return this.#latestCompletedId;
  }

  /** The id the next checkpoint will get. */
  nextCheckpointId(): CheckpointId {
    return asCheckpointId(this.#lastIssuedId + 1);
  }

  /** Counted failures since the last completion or job failure. */
  consecutiveFailures(): number {
    return this.#failureManager.continuousFailures;
  }
}

function requireNumber(name: string, value: number, ok: (v: number) => boolean, what: string): void {
  if (typeof value !== 'number' || !ok(value)) throw new RangeError(`${name} must be ${what}, got ${String(value)}`);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

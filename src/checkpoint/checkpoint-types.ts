/**
 * Shared vocabulary of checkpointing: what a subtask acknowledges, what a completed checkpoint
 * records, and why a checkpoint fails. Everything here is plain, JSON-serialisable data, so it
 * can cross threads and processes and be written into `_metadata`.
 */

/** Checkpoint ids are strictly increasing per job, starting at 1. */
export type { CheckpointId } from '../core/ids.ts';
import type { CheckpointId } from '../core/ids.ts';

/** Identifies one subtask of one job vertex. */
export interface SubtaskKey {
  readonly vertex: number;
  readonly subtask: number;
}

export function subtaskKeyString(k: SubtaskKey): string {
  return `${k.vertex}/${k.subtask}`;
}

import type { StateFileHandle } from '../state/state-file.ts';

export type { StateFileHandle } from '../state/state-file.ts';

/** The state one operator of one subtask persisted: its files and small inline values. */
export interface OperatorSubtaskState {
  readonly operatorId: string;
  readonly files: readonly StateFileHandle[];
  /** Small state kept inline in the metadata (e.g. source split positions); JSON-serialisable. */
  readonly inline?: unknown;
  /**
   * The in-flight data of the subtask's input channels that an unaligned checkpoint stored; only
   * on the state of the subtask's head operator (the one its channels feed).
   */
  readonly channelState?: InputChannelStateHandle;
  /**
   * Names of the keyed and operator states the operator registered in this subtask. Reported
   * with the acknowledgement and gathered per operator into `_metadata`; not stored per subtask.
   */
  readonly stateNames?: readonly string[];
}

/**
 * The channel state of one subtask: one file (also listed among the operator's `files`, so that
 * checks and clean-up cover it) holding the stored items of each listed channel, in list order.
 * Channels that held nothing are not listed.
 */
export interface InputChannelStateHandle {
  readonly file: StateFileHandle;
  readonly channels: readonly InputChannelInfo[];
}

export interface InputChannelInfo {
  /** The network edge, stable across runs of the same job: see `channelEdgeKey`. */
  readonly edge: string;
  /** The edge's partitioner when the data was stored (`hash`, `forward`, `rebalance`, ...). */
  readonly partitioner: string;
  /** The producer subtask of the channel, and the producer's parallelism then. */
  readonly producer: number;
  readonly producers: number;
  readonly records: number;
  readonly bytes: number;
}

/** Per-subtask figures reported with an acknowledgement (Flink's field meanings). */
export interface SubtaskCheckpointMetrics {
  /** Time the synchronous part of the snapshot took, ms. */
  readonly syncDurationMs: number;
  /** Time the asynchronous part (serialising and writing) took, ms. */
  readonly asyncDurationMs: number;
  /** Time between the first and the last barrier of this subtask's inputs, ms. */
  readonly alignmentDurationMs: number;
  /** Time from the checkpoint's trigger until this subtask saw its first barrier, ms. */
  readonly startDelayMs: number;
  /** Bytes processed while aligning (at-least-once mode processes records during alignment). */
  readonly bytesProcessedDuringAlignment: number;
  /** Bytes of state written (operator state and channel state). */
  readonly stateSize: number;
  /** Bytes of in-flight data persisted as channel state (Flink's persisted_data); 0 for an aligned snapshot. */
  readonly persistedDataBytes: number;
  /** Whether this subtask took the checkpoint unaligned (from the start, or after its aligned timeout). */
  readonly unaligned: boolean;
  /** The task's busy time when it took the snapshot, ms per second (its latest one-second window). */
  readonly busyTimeMsPerSecond: number;
  /** The task's back-pressured time when it took the snapshot, ms per second: a barrier waits behind data it cannot send. */
  readonly backPressuredTimeMsPerSecond: number;
}

export interface SubtaskAcknowledgement {
  readonly subtask: SubtaskKey;
  readonly checkpointId: CheckpointId;
  readonly states: readonly OperatorSubtaskState[];
  readonly metrics: SubtaskCheckpointMetrics;
}

/** What `_metadata` records about one operator. */
export interface OperatorCheckpointMetadata {
  readonly operatorId: string;
  readonly uid: string | undefined;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /**
   * Names of the keyed states and operator states the operator registered, sorted, across all
   * its subtasks. Metadata written before this field existed reads back with none.
   */
  readonly stateNames: readonly string[];
  /** Indexed by subtask. */
  readonly subtasks: readonly (OperatorSubtaskState | undefined)[];
}

export interface CheckpointMetadata {
  readonly version: 1;
  readonly jobId: string;
  readonly checkpointId: CheckpointId;
  readonly timestamp: number;
  readonly kind: 'checkpoint' | 'savepoint';
  readonly operators: readonly OperatorCheckpointMetadata[];
}

/** Why a checkpoint failed (Flink's CheckpointFailureReason, the subset that can happen here). */
export type CheckpointFailureReason =
  | 'CHECKPOINT_EXPIRED'
  | 'CHECKPOINT_DECLINED'
  | 'CHECKPOINT_SUBSUMED'
  | 'TASK_FAILURE'
  | 'IO_EXCEPTION'
  | 'FINALIZE_CHECKPOINT_FAILURE'
  | 'JOB_FAILOVER_REGION'
  | 'CHECKPOINT_COORDINATOR_SHUTDOWN'
  | 'TOO_MANY_CHECKPOINT_REQUESTS'
  | 'NOT_ALL_REQUIRED_TASKS_RUNNING';

export const FAILURE_MESSAGES: Record<CheckpointFailureReason, string> = {
  CHECKPOINT_EXPIRED: 'Checkpoint expired before completing.',
  CHECKPOINT_DECLINED: 'Checkpoint was declined.',
  CHECKPOINT_SUBSUMED: 'Checkpoint was canceled because a barrier from newer checkpoint was received.',
  TASK_FAILURE: 'Task has failed.',
  IO_EXCEPTION: 'An Exception occurred while triggering the checkpoint.',
  FINALIZE_CHECKPOINT_FAILURE: 'Failure to finalize checkpoint.',
  JOB_FAILOVER_REGION: 'Job failover region.',
  CHECKPOINT_COORDINATOR_SHUTDOWN: 'CheckpointCoordinator shutdown.',
  TOO_MANY_CHECKPOINT_REQUESTS: 'The maximum number of queued checkpoint requests exceeded',
  NOT_ALL_REQUIRED_TASKS_RUNNING: 'Not all required tasks are currently running.',
};

/** Failures that count against `tolerableCheckpointFailureNumber` (Flink does not count expiry of a subsumed checkpoint or shutdown). */
export const COUNTED_FAILURES: ReadonlySet<CheckpointFailureReason> = new Set([
  'CHECKPOINT_EXPIRED',
  'CHECKPOINT_DECLINED',
  'IO_EXCEPTION',
  'FINALIZE_CHECKPOINT_FAILURE',
]);

export class CheckpointException extends Error {
  override readonly name = 'CheckpointException';
  constructor(
    readonly reason: CheckpointFailureReason,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(detail ? `${FAILURE_MESSAGES[reason]} ${detail}` : FAILURE_MESSAGES[reason], options);
  }
}

/**
 * Checkpoint statistics as a job client and the REST API see them, with the field names of Flink's
 * REST API (`/jobs/:jobid/checkpoints`). Plain JSON-able data; the checkpoint layer produces it.
 */

export type CheckpointStatus = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/**
 * What a checkpoint is, with Flink's REST values: a checkpoint, a checkpoint at least one subtask
 * took unaligned, a savepoint, or the savepoint of a stop-with-savepoint (synchronous: the job
 * ends with it).
 */
export type CheckpointStatsType = 'CHECKPOINT' | 'UNALIGNED_CHECKPOINT' | 'SAVEPOINT' | 'SYNC_SAVEPOINT';

/** Figures one subtask reported with its acknowledgement. */
export interface SubtaskCheckpointStats {
  /** When the coordinator received the acknowledgement, ms since the epoch. */
  ack_timestamp: number;
  sync_duration: number;
  async_duration: number;
  alignment_duration: number;
  start_delay: number;
  bytes_processed_during_alignment: number;
  /** Bytes of in-flight data the subtask stored as channel state (persisted_data); 0 when it took the checkpoint aligned. */
  persisted_data: number;
  /** Whether the subtask took the checkpoint unaligned, from the start or after its aligned-checkpoint timeout. */
  unaligned_checkpoint: boolean;
  state_size: number;
  /** The task's busy time when it took the snapshot, ms per second (busyTimeMsPerSecond). */
  busy_time_ms_per_second: number;
  /** The task's back-pressured time when it took the snapshot, ms per second (backPressuredTimeMsPerSecond). */
  back_pressured_time_ms_per_second: number;
}

export interface CheckpointStatsEntry {
  id: number;
  status: CheckpointStatus;
  is_savepoint: boolean;
  /** CHECKPOINT until a subtask acknowledges it unaligned, then UNALIGNED_CHECKPOINT; savepoints keep their type. */
  checkpoint_type: CheckpointStatsType;
  trigger_timestamp: number;
  /** Arrival of the latest acknowledgement; -1 while none has arrived (Flink's "n/a"). */
  latest_ack_timestamp: number;
  /**
   * From the trigger to the latest acknowledgement (Flink's definition: for a completed
   * checkpoint it is set by the last subtask to acknowledge); for a failed checkpoint, from
   * the trigger to the failure; -1 while in progress with no acknowledgement.
   */
  end_to_end_duration: number;
  /** Sum of the state sizes the acknowledged subtasks reported, bytes. */
  state_size: number;
  /** Sum of the bytes the acknowledged subtasks processed during alignment (processed_data). */
  processed_data: number;
  /** Sum of the in-flight bytes the acknowledged subtasks stored as channel state (persisted_data). */
  persisted_data: number;
  num_subtasks: number;
  num_acknowledged_subtasks: number;
  /** Where a completed checkpoint's metadata lives. */
  external_path?: string;
  failure_timestamp?: number;
  failure_message?: string;
  /** Acknowledged subtasks, keyed `vertex/subtask`. */
  subtasks: Record<string, SubtaskCheckpointStats>;
}

export interface MinMaxAvg {
  min: number;
  max: number;
  avg: number;
}

export interface RestoredCheckpointStats {
  id: number;
  restore_timestamp: number;
  is_savepoint: boolean;
  external_path: string;
}

export interface CheckpointStatsSnapshot {
  counts: { restored: number; total: number; in_progress: number; completed: number; failed: number };
  /** Over every checkpoint completed since the tracker was created; all zero before the first. */
  summary: { end_to_end_duration: MinMaxAvg; state_size: MinMaxAvg };
  latest: {
    completed: CheckpointStatsEntry | null;
    savepoint: CheckpointStatsEntry | null;
    failed: CheckpointStatsEntry | null;
    restored: RestoredCheckpointStats | null;
  };
  /** The most recently triggered checkpoints, newest first. */
  history: CheckpointStatsEntry[];
}

/**
 * What one checkpoint is, as every task learns it from the barrier itself (Flink's
 * CheckpointOptions): plain frozen data, so it travels in-band with the barrier through local
 * channels and across threads alike.
 *
 * The coordinator decides what is triggered (checkpoint, full checkpoint, savepoint, stop); the
 * job adds how barriers are handled (its checkpointing mode). Tasks choose their barrier-handling
 * state and where their files go from these options alone, so no side channel has to tell them
 * about a checkpoint before its barriers arrive.
 */
import type { CheckpointTriggerOptions } from './checkpoint-coordinator.ts';

/**
 * `checkpoint`: an ordinary (periodic or manual) checkpoint into the job's checkpoint storage.
 * `full-checkpoint`: a checkpoint that must not depend on earlier ones (`weir checkpoint --full`).
 * `savepoint`: written into its own self-contained directory; the user's, not the job's.
 */
export type CheckpointType = 'checkpoint' | 'full-checkpoint' | 'savepoint';

/**
 * How state is written: whole (`full`), or as changes since an earlier checkpoint where the
 * backend can (`incremental`: ordinary checkpoints; a backend without incremental snapshots, or
 * with them turned off, writes them whole).
 */
export type SnapshotType = 'full' | 'incremental';

/**
 * How a task with several input channels handles the barriers:
 * `aligned` (exactly-once): a channel that delivered the barrier is blocked until every channel has;
 * `unaligned` (exactly-once): the barrier overtakes buffered data, which is stored as channel state;
 * `at-least-once`: barriers are only counted, nothing blocks, records after a barrier may be replayed.
 */
export type AlignmentType = 'aligned' | 'unaligned' | 'at-least-once';

export interface CheckpointOptions {
  readonly type: CheckpointType;
  readonly snapshotType: SnapshotType;
  readonly alignment: AlignmentType;
  /**
   * Only on aligned ordinary checkpoints of a job with unaligned checkpoints enabled and a positive
   * aligned-checkpoint timeout: a subtask whose alignment has not ended `alignedTimeoutMs` after the
   * checkpoint's trigger (the barrier's timestamp) switches to unaligned for this checkpoint.
   */
  readonly alignedTimeoutMs?: number;
  /** Where every subtask writes its state files: the savepoint's directory. Only for savepoints. */
  readonly targetLocation?: string;
  /**
   * Stop-with-savepoint: sources emit nothing after their barrier and the job ends when the
   * savepoint completes; with `drain`, sources first emit the maximal watermark. Only for savepoints.
   */
  readonly stop?: { readonly drain: boolean };
}

/** An ordinary aligned checkpoint: the options of a barrier when nothing else was asked for. */
export const ALIGNED_CHECKPOINT: CheckpointOptions = Object.freeze({ type: 'checkpoint', snapshotType: 'incremental', alignment: 'aligned' });

/**
 * The options of one triggered checkpoint: what the coordinator asked for, with the job's
 * alignment for ordinary checkpoints. Savepoints are always aligned (their state must be
 * consistent whatever the job's mode), and are always full.
 */
export function checkpointOptionsFor(trigger: CheckpointTriggerOptions, alignment: AlignmentType, alignedTimeoutMs?: number): CheckpointOptions {
  if (trigger.isSavepoint || trigger.savepointDir !== undefined || trigger.stop !== undefined) {
    return Object.freeze({
      type: 'savepoint',
      snapshotType: 'full',
      alignment: 'aligned',
      ...(trigger.savepointDir !== undefined ? { targetLocation: trigger.savepointDir } : {}),
      ...(trigger.stop !== undefined ? { stop: Object.freeze({ drain: trigger.stop.drain }) } : {}),
    });
  }
  const type: CheckpointType = trigger.full === true ? 'full-checkpoint' : 'checkpoint';
  const timeout = alignment === 'aligned' && alignedTimeoutMs !== undefined ? { alignedTimeoutMs } : {};
  if (type === 'checkpoint' && alignment === 'aligned' && alignedTimeoutMs === undefined) return ALIGNED_CHECKPOINT;
  return Object.freeze({ type, snapshotType: type === 'checkpoint' ? 'incremental' : 'full', alignment, ...timeout });
}

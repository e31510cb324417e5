/**
 * The source side of a source task, whichever kind of source it hosts: a split reader polled in
 * bursts by the mailbox (`split-reader-driver.ts`) or a SourceFunction that runs its own loop
 * (`source-function-driver.ts`). What the task and its checkpoints need from either.
 */
import type { CheckpointId } from '../../core/ids.ts';
import type { SourceReader, SourceSplit } from '../../api/source.ts';

export interface SourceDriver {
  readonly kind: 'reader' | 'function';
  /** The split reader whose splits a snapshot records; undefined for a source function. */
  readonly reader: SourceReader<unknown, SourceSplit> | undefined;
  /**
   * A source function is paused inside collect(): its state may not yet reflect the record it
   * emitted, so a checkpoint waits until it resumes.
   */
  readonly pausedInEmit: boolean;
  /** Opens the user's source (after the chain is open). */
  open(): Promise<void>;
  /** Starts emitting. */
  start(): void;
  /** The mailbox's default action: one burst of reading (nothing for a push source). */
  processInput(): void;
  /** The task may go on (credit came back, a suspension ended). */
  resume(): void;
  /** Snapshots the source's own user state (a source function's), before the chain's operators. */
  snapshotState(checkpointId: CheckpointId, timestamp: number): void | Promise<void>;
  notifyCheckpoint(checkpointId: CheckpointId, completed: boolean): void | Promise<void>;
  /** Stops the source's loop (best effort); it emits nothing more. */
  cancel(): void;
  close(): Promise<void>;
}

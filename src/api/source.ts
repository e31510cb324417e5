/**
 * The split-based source contract (Flink's FLIP-27 shape, with a static split assignment).
 *
 * A source is divided into splits: plain-data descriptions of a part of the input and a read
 * position inside it. Splits are assigned to parallel readers; a reader reports the current
 * position of its unfinished splits in `snapshotState`, which is what makes a source replayable:
 * restoring hands those splits back to readers, which resume from the recorded positions.
 */

export type Boundedness = 'BOUNDED' | 'CONTINUOUS_UNBOUNDED';

/** A part of the input plus the position reached in it. Must be plain, serialisable data. */
export interface SourceSplit {
  readonly splitId: string;
}

/** MORE_AVAILABLE: call again now. NOTHING_AVAILABLE: wait for `isAvailable()`. END_OF_INPUT: done. */
export type InputStatus = 'MORE_AVAILABLE' | 'NOTHING_AVAILABLE' | 'END_OF_INPUT';

export interface ReaderOutput<T> {
  /** Emits one record, with an event-time timestamp when the source knows it. */
  collect(value: T, timestamp?: number): void;
}

export interface SourceReaderContext {
  getIndexOfSubtask(): number;
  getNumberOfParallelSubtasks(): number;
}

export interface SourceReader<T, S extends SourceSplit> {
  /** Receives splits to read: at start, and again with restored positions after a restore. */
  addSplits(splits: readonly S[]): void;
  /** No further splits will be assigned; a bounded reader may end once its splits are done. */
  notifyNoMoreSplits(): void;
  /** Emits a small batch of records (one or a few) and says whether more are ready. Synchronous: it runs on the task's hot path. */
  pollNext(output: ReaderOutput<T>): InputStatus;
  /** Resolves when `pollNext` may have data again after it returned NOTHING_AVAILABLE. */
  isAvailable(): Promise<void>;
  /** The unfinished splits with their current positions, consistent with everything emitted so far. */
  snapshotState(checkpointId: number): S[];
  /** The checkpoint whose snapshotState this reader took part in is complete (e.g. commit offsets upstream). */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Source<T, S extends SourceSplit = SourceSplit> {
  getBoundedness(): Boundedness;
  /**
   * All splits of the input for the given parallelism. Called wherever the job runs, so it must
   * be deterministic. Split i is read by subtask i % parallelism.
   */
  createSplits(parallelism: number): S[];
  createReader(context: SourceReaderContext): SourceReader<T, S>;
}

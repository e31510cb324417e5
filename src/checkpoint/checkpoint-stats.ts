/**
 * Checkpoint statistics with the field names and meanings of Flink's REST API
 * (`/jobs/:jobid/checkpoints`): counts, a bounded history, the latest completed / savepoint /
 * failed / restored checkpoint, and a summary over every completed checkpoint.
 *
 * The tracker only records what it is told; timestamps come from the caller's clock. A
 * snapshot is plain JSON-able data and shares nothing with the tracker.
 */

import { subtaskKeyString } from './checkpoint-types.ts';
import type { CheckpointId, SubtaskCheckpointMetrics, SubtaskKey } from './checkpoint-types.ts';

export type {
  CheckpointStatsEntry,
  CheckpointStatsSnapshot,
  CheckpointStatsType,
  CheckpointStatus,
  MinMaxAvg,
  RestoredCheckpointStats,
  SubtaskCheckpointStats,
} from '../api/checkpoint-statistics.ts';
import type {
  CheckpointStatsEntry,
  CheckpointStatsSnapshot,
  MinMaxAvg,
  RestoredCheckpointStats,
} from '../api/checkpoint-statistics.ts';

export const DEFAULT_STATS_HISTORY_SIZE = 10;

/** Values the percentiles of a summary are computed over: the latest this many (as Flink's window). */
const PERCENTILE_WINDOW = 10_000;

/** Running min / max / sum of one figure, and percentiles over its latest values. */
class Summary {
  #count = 0;
  #sum = 0;
  #min = 0;
  #max = 0;
  readonly #latest: number[] = [];

  add(value: number): void {
    this.#min = this.#count === 0 ? value : Math.min(this.#min, value);
    this.#max = this.#count === 0 ? value : Math.max(this.#max, value);
    this.#sum += value;
    this.#count++;
    this.#latest.push(value);
    if (this.#latest.length > PERCENTILE_WINDOW) this.#latest.shift();
  }

  toJSON(): MinMaxAvg {
    return { min: this.#min, max: this.#max, avg: this.#count === 0 ? 0 : this.#sum / this.#count };
  }

  /** Min, max, average and percentiles (0 while there are no values). */
  withPercentiles(): StatsSummary {
    const sorted = [...this.#latest].sort((a, b) => a - b);
    // Nearest rank: the smallest value with at least q of the values at or below it.
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
    return { ...this.toJSON(), p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), p999: at(0.999) };
  }
}

/** A summary with Flink's percentiles (StatsSummaryDto). */
export interface StatsSummary extends MinMaxAvg {
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
}

/** Summaries over every completed checkpoint, with percentiles over the latest 10 000. */
export interface CheckpointSummaries {
  readonly end_to_end_duration: StatsSummary;
  readonly state_size: StatsSummary;
  readonly processed_data: StatsSummary;
  readonly persisted_data: StatsSummary;
}

export class CheckpointStatsTracker {
  readonly #historySize: number;
  /** Newest first; entries are mutated in place while their checkpoint is in progress. */
  readonly #history: CheckpointStatsEntry[] = [];
  /** Every in-progress checkpoint, also those that fell out of the history. */
  readonly #inProgress = new Map<CheckpointId, CheckpointStatsEntry>();
  #restoredCount = 0;
  #total = 0;
  #completed = 0;
  #failed = 0;
  #latestCompleted: CheckpointStatsEntry | undefined;
  #latestSavepoint: CheckpointStatsEntry | undefined;
  #latestFailed: CheckpointStatsEntry | undefined;
  #latestRestored: RestoredCheckpointStats | undefined;
  readonly #endToEnd = new Summary();
  readonly #stateSize = new Summary();
  readonly #processed = new Summary();
  readonly #persisted = new Summary();

  constructor(options: { historySize?: number } = {}) {
    const size = options.historySize ?? DEFAULT_STATS_HISTORY_SIZE;
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`historySize must be a non-negative integer, got ${size}`);
    this.#historySize = size;
  }

  /**
   * A checkpoint was triggered and now waits for `numSubtasks` acknowledgements. `isSynchronous`:
   * the savepoint of a stop-with-savepoint (SYNC_SAVEPOINT); only meaningful with `isSavepoint`.
   */
  reportPending(id: CheckpointId, triggerTimestamp: number, isSavepoint: boolean, numSubtasks: number, isSynchronous = false): void {
    const entry: CheckpointStatsEntry = {
      id,
      status: 'IN_PROGRESS',
      is_savepoint: isSavepoint,
      checkpoint_type: isSavepoint ? (isSynchronous ? 'SYNC_SAVEPOINT' : 'SAVEPOINT') : 'CHECKPOINT',
      trigger_timestamp: triggerTimestamp,
      latest_ack_timestamp: -1,
      end_to_end_duration: -1,
      state_size: 0,
      processed_data: 0,
      persisted_data: 0,
      num_subtasks: numSubtasks,
      num_acknowledged_subtasks: 0,
      subtasks: {},
    };
    this.#total++;
    this.#inProgress.set(id, entry);
    if (this.#historySize === 0) return;
    this.#history.unshift(entry);
    if (this.#history.length > this.#historySize) this.#history.pop();
  }

  /** A subtask acknowledged an in-progress checkpoint; later reports for the same subtask are ignored. */
  reportAcknowledged(id: CheckpointId, subtask: SubtaskKey, ackTimestamp: number, metrics: SubtaskCheckpointMetrics): void {
    const entry = this.#inProgress.get(id);
    if (!entry) return;
    const key = subtaskKeyString(subtask);
    if (key in entry.subtasks) return;
    entry.subtasks[key] = {
      ack_timestamp: ackTimestamp,
      sync_duration: metrics.syncDurationMs,
      async_duration: metrics.asyncDurationMs,
      alignment_duration: metrics.alignmentDurationMs,
      start_delay: metrics.startDelayMs,
      bytes_processed_during_alignment: metrics.bytesProcessedDuringAlignment,
      persisted_data: metrics.persistedDataBytes,
      unaligned_checkpoint: metrics.unaligned,
      state_size: metrics.stateSize,
      busy_time_ms_per_second: metrics.busyTimeMsPerSecond,
      back_pressured_time_ms_per_second: metrics.backPressuredTimeMsPerSecond,
    };
    entry.num_acknowledged_subtasks++;
    entry.state_size += metrics.stateSize;
    entry.processed_data += metrics.bytesProcessedDuringAlignment;
    entry.persisted_data += metrics.persistedDataBytes;
    // Flink's rule: one subtask that went unaligned makes the whole checkpoint unaligned.
    if (metrics.unaligned && entry.checkpoint_type === 'CHECKPOINT') entry.checkpoint_type = 'UNALIGNED_CHECKPOINT';
    entry.latest_ack_timestamp = Math.max(entry.latest_ack_timestamp, ackTimestamp);
    entry.end_to_end_duration = Math.max(0, entry.latest_ack_timestamp - entry.trigger_timestamp);
  }

  /** An in-progress checkpoint completed at `timestamp`, its metadata stored under `externalPath`. */
  reportCompleted(id: CheckpointId, timestamp: number, externalPath: string): void {
    const entry = this.#inProgress.get(id);
    if (!entry) return;
    this.#inProgress.delete(id);
    entry.status = 'COMPLETED';
    entry.external_path = externalPath;
    // With nothing to acknowledge, the checkpoint took as long as its finalisation.
    if (entry.latest_ack_timestamp < 0) entry.end_to_end_duration = Math.max(0, timestamp - entry.trigger_timestamp);
    this.#completed++;
    this.#endToEnd.add(entry.end_to_end_duration);
    this.#stateSize.add(entry.state_size);
    this.#processed.add(entry.processed_data);
    this.#persisted.add(entry.persisted_data);
    this.#latestCompleted = entry;
    if (entry.is_savepoint) this.#latestSavepoint = entry;
  }

  /** An in-progress checkpoint failed at `timestamp`. */
  reportFailed(id: CheckpointId, timestamp: number, message: string): void {
    const entry = this.#inProgress.get(id);
    if (!entry) return;
    this.#inProgress.delete(id);
    entry.status = 'FAILED';
    entry.failure_timestamp = timestamp;
    entry.failure_message = message;
    entry.end_to_end_duration = Math.max(0, timestamp - entry.trigger_timestamp);
    this.#failed++;
    this.#latestFailed = entry;
  }

  /** The job was restored from checkpoint `id` (stored at `path`) at `timestamp`. */
  restored(id: CheckpointId, timestamp: number, path: string, isSavepoint = false): void {
    this.#restoredCount++;
    this.#latestRestored = { id, restore_timestamp: timestamp, is_savepoint: isSavepoint, external_path: path };
  }

  /** The summaries of every completed checkpoint, with percentiles (snapshot() has min, max and average). */
  summaries(): CheckpointSummaries {
    return {
      end_to_end_duration: this.#endToEnd.withPercentiles(),
      state_size: this.#stateSize.withPercentiles(),
      processed_data: this.#processed.withPercentiles(),
      persisted_data: this.#persisted.withPercentiles(),
    };
  }

  /** The counts of snapshot(), without copying anything (for metrics read every second). */
  counts(): CheckpointStatsSnapshot['counts'] {
    return { restored: this.#restoredCount, total: this.#total, in_progress: this.#inProgress.size, completed: this.#completed, failed: this.#failed };
  }

  /** The latest completed checkpoint or savepoint, as the tracker holds it (read only). */
  latestCompleted(): Readonly<CheckpointStatsEntry> | undefined {
    return this.#latestCompleted;
  }

  /** The latest restore, as the tracker holds it (read only). */
  latestRestored(): Readonly<RestoredCheckpointStats> | undefined {
    return this.#latestRestored;
  }

  snapshot(): CheckpointStatsSnapshot {
    return structuredClone({
      counts: {
        restored: this.#restoredCount,
        total: this.#total,
        in_progress: this.#inProgress.size,
        completed: this.#completed,
        failed: this.#failed,
      },
      summary: { end_to_end_duration: this.#endToEnd.toJSON(), state_size: this.#stateSize.toJSON() },
      latest: {
        completed: this.#latestCompleted ?? null,
        savepoint: this.#latestSavepoint ?? null,
        failed: this.#latestFailed ?? null,
        restored: this.#latestRestored ?? null,
      },
      history: this.#history,
    });
  }
}

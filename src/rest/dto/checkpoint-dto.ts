/**
 * The checkpoint statistics tracker's figures as Flink's checkpoint resources: statistics of a
 * job, of one checkpoint, of one vertex's subtasks, and the job's checkpointing configuration.
 */
import type { CheckpointStatsEntry, CheckpointStatsSnapshot, CheckpointSummaries } from '../../checkpoint/checkpoint-stats.ts';
import type { JobInfo, VertexInfo } from '../../cluster/dispatcher.ts';
import { HttpError } from '../rest-errors.ts';
import type {
  CheckpointConfigInfo,
  CheckpointingStatistics,
  CheckpointStatistics,
  StatsSummary,
  TaskCheckpointStatistics,
  TaskCheckpointStatisticsWithSubtaskDetails,
} from '../rest-types.ts';

/** The statistics of a job without checkpointing. */
export const EMPTY_STATS: CheckpointStatsSnapshot = {
  counts: { restored: 0, total: 0, in_progress: 0, completed: 0, failed: 0 },
  summary: { end_to_end_duration: { min: 0, max: 0, avg: 0 }, state_size: { min: 0, max: 0, avg: 0 } },
  latest: { completed: null, savepoint: null, failed: null, restored: null },
  history: [],
};

const CLASS_NAMES = {
  COMPLETED: '.CompletedCheckpointStatistics',
  FAILED: '.FailedCheckpointStatistics',
  IN_PROGRESS: '.PendingCheckpointStatistics',
} as const;

/** Flink's discriminators of a subtask's checkpoint statistics. */
const COMPLETED_SUBTASK = '.SubtaskCheckpointStatistics$CompletedSubtaskCheckpointStatistics';
const PENDING_SUBTASK = '.SubtaskCheckpointStatistics$PendingSubtaskCheckpointStatistics';

/** Subtask figures of one vertex, by subtask index (the tracker keys them `vertexIndex/subtask`). */
function subtasksOf(e: CheckpointStatsEntry, vertex: VertexInfo): Map<number, CheckpointStatsEntry['subtasks'][string]> {
  const out = new Map<number, CheckpointStatsEntry['subtasks'][string]>();
  for (const [key, s] of Object.entries(e.subtasks)) {
    const [v, i] = key.split('/').map(Number);
    if (v === vertex.index && i !== undefined) out.set(i, s);
  }
  return out;
}

function taskStatistics(e: CheckpointStatsEntry, vertex: VertexInfo): TaskCheckpointStatistics {
  const subs = [...subtasksOf(e, vertex).values()];
  const latest = subs.reduce((m, s) => Math.max(m, s.ack_timestamp), -1);
  const size = subs.reduce((n, s) => n + s.state_size, 0);
  return {
    id: e.id,
    status: e.status,
    latest_ack_timestamp: latest,
    checkpointed_size: size,
    state_size: size,
    end_to_end_duration: latest < 0 ? -1 : Math.max(0, latest - e.trigger_timestamp),
    alignment_buffered: 0,
    processed_data: subs.reduce((n, s) => n + s.bytes_processed_during_alignment, 0),
    persisted_data: subs.reduce((n, s) => n + s.persisted_data, 0),
    num_subtasks: vertex.parallelism,
    num_acknowledged_subtasks: subs.length,
  };
}

/** One checkpoint; with `vertices`, its figures per vertex under `tasks`. */
export function checkpointStatistics(e: CheckpointStatsEntry, vertices?: readonly VertexInfo[]): CheckpointStatistics {
  const { subtasks, ...fields } = e;
  return {
    className: CLASS_NAMES[e.status],
    ...fields,
    savepointFormat: e.is_savepoint ? 'CANONICAL' : null,
    ...(e.status === 'COMPLETED' ? { discarded: false } : {}),
    checkpointed_size: e.state_size,
    alignment_buffered: 0,
    tasks: Object.fromEntries((vertices ?? []).map((v) => [v.id, taskStatistics(e, v)])),
  };
}

/** Every figure 0: the summary of no values. */
const NO_VALUES: StatsSummary = { min: 0, max: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 };

/** A summary with Flink's integer average; none: all 0. */
function integral(s: StatsSummary | undefined): StatsSummary {
  return s === undefined ? NO_VALUES : { ...s, avg: Math.round(s.avg) };
}

/** The job's statistics; `summaries` (with percentiles) are the tracker's, absent without checkpointing. */
export function checkpointingStatistics(s: CheckpointStatsSnapshot, summaries?: CheckpointSummaries): CheckpointingStatistics {
  const entry = (e: CheckpointStatsEntry | null) => (e === null ? null : checkpointStatistics(e));
  return {
    counts: s.counts,
    summary: {
      checkpointed_size: integral(summaries?.state_size),
      state_size: integral(summaries?.state_size),
      end_to_end_duration: integral(summaries?.end_to_end_duration),
      alignment_buffered: NO_VALUES,
      processed_data: integral(summaries?.processed_data),
      persisted_data: integral(summaries?.persisted_data),
    },
    latest: { completed: entry(s.latest.completed), savepoint: entry(s.latest.savepoint), failed: entry(s.latest.failed), restored: s.latest.restored },
    history: s.history.map((e) => checkpointStatistics(e)),
  };
}

/** Min, max, average and nearest-rank percentiles of `values` (all 0 for none). */
function statsSummary(values: readonly number[]): StatsSummary {
  if (values.length === 0) return NO_VALUES;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return {
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    // Flink's StatsSummaryDto has an integer average (its percentiles are doubles).
    avg: Math.round(values.reduce((a, b) => a + b, 0) / values.length),
    p50: at(0.5),
    p90: at(0.9),
    p95: at(0.95),
    p99: at(0.99),
    p999: at(0.999),
  };
}

export function subtaskDetails(e: CheckpointStatsEntry, vertex: VertexInfo): TaskCheckpointStatisticsWithSubtaskDetails {
  const acked = subtasksOf(e, vertex);
  const subs = [...acked.values()];
  const pick = (f: (s: (typeof subs)[number]) => number) => statsSummary(subs.map(f));
  return {
    ...taskStatistics(e, vertex),
    summary: {
      checkpointed_size: pick((s) => s.state_size),
      state_size: pick((s) => s.state_size),
      end_to_end_duration: pick((s) => Math.max(0, s.ack_timestamp - e.trigger_timestamp)),
      checkpoint_duration: { sync: pick((s) => s.sync_duration), async: pick((s) => s.async_duration) },
      alignment: {
        buffered: pick(() => 0),
        processed: pick((s) => s.bytes_processed_during_alignment),
        persisted: pick((s) => s.persisted_data),
        duration: pick((s) => s.alignment_duration),
      },
      start_delay: pick((s) => s.start_delay),
    },
    subtasks: Array.from({ length: vertex.parallelism }, (_, index) => {
      const s = acked.get(index);
      if (!s) return { className: PENDING_SUBTASK, index, status: 'pending_or_failed' as const };
      return {
        className: COMPLETED_SUBTASK,
        index,
        status: 'completed' as const,
        ack_timestamp: s.ack_timestamp,
        end_to_end_duration: Math.max(0, s.ack_timestamp - e.trigger_timestamp),
        persisted_data: s.persisted_data,
        processed_data: s.bytes_processed_during_alignment,
        state_size: s.state_size,
        checkpointed_size: s.state_size,
        checkpoint: { sync: s.sync_duration, async: s.async_duration },
        alignment: { buffered: 0, processed: s.bytes_processed_during_alignment, persisted: s.persisted_data, duration: s.alignment_duration },
        start_delay: s.start_delay,
        unaligned_checkpoint: s.unaligned_checkpoint,
        aborted: false,
      };
    }),
  };
}

/** The job's checkpointing configuration; 404 when checkpointing is not enabled. */
export function checkpointConfig(j: JobInfo): CheckpointConfigInfo {
  const c = j.config;
  const interval = c['execution.checkpointing.interval'];
  if (interval === undefined) throw new HttpError(404, `checkpointing is not enabled for job ${j.id}`);
  const retention = c['execution.checkpointing.externalized-checkpoint-retention'];
  return {
    mode: c['execution.checkpointing.mode'] === 'EXACTLY_ONCE' ? 'exactly_once' : 'at_least_once',
    interval,
    timeout: c['execution.checkpointing.timeout'],
    min_pause: c['execution.checkpointing.min-pause'],
    max_concurrent: c['execution.checkpointing.max-concurrent-checkpoints'],
    externalization: { enabled: retention !== 'NO_EXTERNALIZED_CHECKPOINTS', delete_on_cancellation: retention !== 'RETAIN_ON_CANCELLATION' },
    state_backend: stateBackendClassName(c['state.backend.type']),
    checkpoint_storage: 'FileSystemCheckpointStorage',
    unaligned_checkpoints: c['execution.checkpointing.unaligned.enabled'],
    tolerable_failed_checkpoints: c['execution.checkpointing.tolerable-failed-checkpoints'],
    aligned_checkpoint_timeout: c['execution.checkpointing.aligned-checkpoint-timeout'],
    checkpoints_after_tasks_finish: c['execution.checkpointing.checkpoints-after-tasks-finish'],
    state_changelog_enabled: c['state.backend.changelog.enabled'] === true,
  };
}

/** Flink's class name of the job's state backend, as its REST API reports it (the configured name for others). */
function stateBackendClassName(type: unknown): string {
  if (type === 'rocksdb' || type === 'embeddedrocksdb') return 'EmbeddedRocksDBStateBackend';
  if (type === 'hashmap' || type === undefined) return 'HashMapStateBackend';
  return String(type);
}

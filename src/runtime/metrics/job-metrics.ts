/**
 * A job's metrics on the JobManager, with Flink's names (its JobManager job scope):
 *
 *   uptime                          ms     since the job last switched to RUNNING; 0 while it is
 *                                          not running, -1 once it is terminal (as Flink)
 *   numRestarts                            restarts since the job was submitted
 *   lastCheckpointDuration          ms     of the latest completed checkpoint, -1 before one
 *   lastCheckpointSize              bytes  its checkpointed size (weir's checkpoints are full)
 *   lastCheckpointFullSize          bytes  its full state size
 *   lastCheckpointProcessedData     bytes  processed during its alignment
 *   lastCheckpointPersistedData     bytes  in-flight data it persisted (unaligned)
 *   lastCompletedCheckpointId              -1 before one
 *   lastCheckpointRestoreTimestamp  ms     epoch time of the latest restore, -1 before one
 *   lastCheckpointExternalPath             where the latest completed checkpoint is, "n/a" before one
 *   numberOfCompletedCheckpoints, numberOfFailedCheckpoints, numberOfInProgressCheckpoints,
 *   totalNumberOfCheckpoints               the counts of the checkpoint statistics
 *
 * The gauges read the job's live objects when a metric is read; registering costs nothing on
 * the job's paths.
 */
import type { MetricGroup } from '../../api/metrics.ts';
import { isTerminalJobStatus, type JobStatus } from '../../api/job-status.ts';
import type { CheckpointStatsTracker } from '../../checkpoint/checkpoint-stats.ts';
import type { Clock } from '../../core/time.ts';

/** What the job's metrics read. */
export interface JobMetricsSource {
  status(): JobStatus;
  /** When the job last switched to RUNNING, ms since the epoch; undefined before. */
  runningSince(): number | undefined;
  numRestarts(): number;
  /** The checkpoint statistics; undefined without checkpointing. */
  checkpointStats(): CheckpointStatsTracker | undefined;
}

export function registerJobMetrics(group: MetricGroup, clock: Clock, job: JobMetricsSource): void {
  group.gauge('uptime', () => {
    const status = job.status();
    if (isTerminalJobStatus(status)) return -1;
    const since = job.runningSince();
    return status === 'RUNNING' && since !== undefined ? Math.max(0, clock.now() - since) : 0;
  });
  group.gauge('numRestarts', () => job.numRestarts());
  const latest = () => job.checkpointStats()?.latestCompleted();
  const counts = () => job.checkpointStats()?.counts();
  group.gauge('lastCheckpointDuration', () => latest()?.end_to_end_duration ?? -1);
  group.gauge('lastCheckpointSize', () => latest()?.state_size ?? -1);
  group.gauge('lastCheckpointFullSize', () => latest()?.state_size ?? -1);
  group.gauge('lastCheckpointProcessedData', () => latest()?.processed_data ?? -1);
  group.gauge('lastCheckpointPersistedData', () => latest()?.persisted_data ?? -1);
  group.gauge('lastCompletedCheckpointId', () => latest()?.id ?? -1);
  group.gauge('lastCheckpointRestoreTimestamp', () => job.checkpointStats()?.latestRestored()?.restore_timestamp ?? -1);
  group.gauge('lastCheckpointExternalPath', () => latest()?.external_path ?? 'n/a');
  group.gauge('numberOfCompletedCheckpoints', () => counts()?.completed ?? 0);
  group.gauge('numberOfFailedCheckpoints', () => counts()?.failed ?? 0);
  group.gauge('numberOfInProgressCheckpoints', () => counts()?.in_progress ?? 0);
  group.gauge('totalNumberOfCheckpoints', () => counts()?.total ?? 0);
}

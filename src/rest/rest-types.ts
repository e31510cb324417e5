/**
 * The JSON bodies of weir's REST API, shared by the server and the client. Field names and
 * meanings are Flink's REST API's (docs/rest.md documents each); times are ms since the epoch,
 * durations ms, sizes bytes, and -1 stands for "not (yet) known" as in Flink.
 */
import type { CheckpointStatsType } from '../api/checkpoint-statistics.ts';
import type { JobStatus } from '../api/job-status.ts';

export type { JobStatus };
export type { JobSubmission } from '../cluster/job-submission.ts';

/** Flink's ExecutionState: the status of a job vertex or subtask. */
export type ExecutionState =
  | 'CREATED'
  | 'SCHEDULED'
  | 'DEPLOYING'
  | 'RUNNING'
  | 'FINISHED'
  | 'CANCELING'
  | 'CANCELED'
  | 'FAILED'
  | 'RECONCILING'
  | 'INITIALIZING';

export const EXECUTION_STATES: readonly ExecutionState[] = [
  'CREATED',
  'SCHEDULED',
  'DEPLOYING',
  'RUNNING',
  'FINISHED',
  'CANCELING',
  'CANCELED',
  'FAILED',
  'RECONCILING',
  'INITIALIZING',
];

/** Every error response: a status code and this body. */
export interface ErrorResponse {
  errors: string[];
}

/** GET /config */
export interface DashboardConfiguration {
  'refresh-interval': number;
  'timezone-name': string;
  /** Offset of the cluster's time zone from UTC, ms. */
  'timezone-offset': number;
  'weir-version': string;
  /** The git commit weir was started from, or "unknown". */
  'weir-revision': string;
  features: { 'web-submit': boolean; 'web-cancel': boolean; 'web-rescale': boolean; 'web-history': boolean };
}

/** GET /jobs */
export interface JobIdsWithStatusOverview {
  jobs: { id: string; status: JobStatus }[];
}

/** Vertex counts by state (lower case, as Flink's overview). */
export interface JobTaskCounts {
  total: number;
  created: number;
  scheduled: number;
  deploying: number;
  running: number;
  finished: number;
  canceling: number;
  canceled: number;
  failed: number;
  reconciling: number;
  initializing: number;
}

/** One entry of GET /jobs/overview. */
export interface JobDetailsOverview {
  jid: string;
  name: string;
  state: JobStatus;
  'start-time': number;
  /** -1 while the job runs. */
  'end-time': number;
  duration: number;
  'last-modification': number;
  tasks: JobTaskCounts;
}

/** GET /jobs/overview */
export interface MultipleJobsDetails {
  jobs: JobDetailsOverview[];
}

/** POST /jobs (202) */
export interface JobSubmitResponse {
  jobid: string;
  jobUrl: string;
}

export interface JobVertexDetails {
  /** 32 hex: the id of the vertex's head operator. */
  id: string;
  name: string;
  maxParallelism: number;
  parallelism: number;
  status: ExecutionState;
  'start-time': number;
  'end-time': number;
  duration: number;
  /** Subtasks by state. */
  tasks: Record<ExecutionState, number>;
  /** The I/O figures summed over the vertex's subtasks (their latest reports). */
  metrics: IOMetricsInfo;
}

export interface JobPlanNode {
  id: string;
  parallelism: number;
  operator: string;
  operator_strategy: string;
  description: string;
  inputs?: { num: number; id: string; ship_strategy: string; exchange: string }[];
  optimizer_properties: Record<string, never>;
}

/** GET /jobs/:jobid */
export interface JobDetailsInfo {
  jid: string;
  name: string;
  isStoppable: boolean;
  state: JobStatus;
  'job-type': 'STREAMING';
  'start-time': number;
  'end-time': number;
  duration: number;
  maxParallelism: number;
  now: number;
  /** When the job entered each status; 0 for one it has not been in. */
  timestamps: Record<JobStatus, number>;
  vertices: JobVertexDetails[];
  /** Vertices by state. */
  'status-counts': Record<ExecutionState, number>;
  plan: { jid: string; name: string; type: 'STREAMING'; nodes: JobPlanNode[] };
}

/** POST /jobs/:jobid/savepoints, /stop and /checkpoints (202) */
export interface TriggerResponse {
  'request-id': string;
}

export interface FailureCause {
  class: string;
  'stack-trace': string;
}

/** GET of a trigger: `operation` is absent while IN_PROGRESS. */
export interface AsynchronousOperationResult<T> {
  status: { id: 'IN_PROGRESS' | 'COMPLETED' };
  operation?: T | { 'failure-cause': FailureCause };
}

export type SavepointInfo = AsynchronousOperationResult<{ location: string }>;
export type CheckpointInfo = AsynchronousOperationResult<{ checkpointId: number }>;

export interface MinMaxAvgStatistics {
  min: number;
  max: number;
  avg: number;
}

/** Flink's StatsSummaryDto: min, max, the average (an integer, as Flink's) and percentiles (over the latest 10 000 values). */
export interface StatsSummary extends MinMaxAvgStatistics {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}

/** One checkpoint of GET /jobs/:jobid/checkpoints (history, latest) and of its details. */
export interface CheckpointStatistics {
  className: '.CompletedCheckpointStatistics' | '.FailedCheckpointStatistics' | '.PendingCheckpointStatistics';
  id: number;
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  is_savepoint: boolean;
  /** `CANONICAL` for a savepoint (weir writes its one format), null for a checkpoint. */
  savepointFormat: 'CANONICAL' | null;
  /** UNALIGNED_CHECKPOINT once any subtask acknowledged it unaligned; SYNC_SAVEPOINT: a stop-with-savepoint's. */
  checkpoint_type: CheckpointStatsType;
  trigger_timestamp: number;
  latest_ack_timestamp: number;
  /** Bytes written for this checkpoint: the full state size (weir's checkpoints are full). */
  checkpointed_size: number;
  state_size: number;
  end_to_end_duration: number;
  alignment_buffered: number;
  /** Bytes the subtasks processed during alignment. */
  processed_data: number;
  /** Bytes of in-flight data the subtasks stored as channel state (unaligned checkpoints). */
  persisted_data: number;
  num_subtasks: number;
  num_acknowledged_subtasks: number;
  external_path?: string;
  /** Completed checkpoints: whether it was discarded since (weir reports false). */
  discarded?: boolean;
  failure_timestamp?: number;
  failure_message?: string;
  /** Per vertex id; filled only by the details route. */
  tasks: Record<string, TaskCheckpointStatistics>;
}

/** GET /jobs/:jobid/checkpoints */
export interface CheckpointingStatistics {
  counts: { restored: number; total: number; in_progress: number; completed: number; failed: number };
  summary: {
    checkpointed_size: StatsSummary;
    state_size: StatsSummary;
    end_to_end_duration: StatsSummary;
    alignment_buffered: StatsSummary;
    processed_data: StatsSummary;
    persisted_data: StatsSummary;
  };
  latest: {
    completed: CheckpointStatistics | null;
    savepoint: CheckpointStatistics | null;
    failed: CheckpointStatistics | null;
    restored: { id: number; restore_timestamp: number; is_savepoint: boolean; external_path: string } | null;
  };
  history: CheckpointStatistics[];
}

/** GET /jobs/:jobid/checkpoints/config */
export interface CheckpointConfigInfo {
  mode: 'exactly_once' | 'at_least_once';
  interval: number;
  timeout: number;
  min_pause: number;
  max_concurrent: number;
  externalization: { enabled: boolean; delete_on_cancellation: boolean };
  state_backend: string;
  checkpoint_storage: string;
  /** execution.checkpointing.unaligned.enabled */
  unaligned_checkpoints: boolean;
  tolerable_failed_checkpoints: number;
  /** execution.checkpointing.aligned-checkpoint-timeout, ms (0: unaligned from the start). */
  aligned_checkpoint_timeout: number;
  checkpoints_after_tasks_finish: boolean;
  state_changelog_enabled: boolean;
}

/** One vertex of a checkpoint (GET .../checkpoints/details/:checkpointid, `tasks`). */
export interface TaskCheckpointStatistics {
  id: number;
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  latest_ack_timestamp: number;
  checkpointed_size: number;
  state_size: number;
  end_to_end_duration: number;
  alignment_buffered: number;
  processed_data: number;
  persisted_data: number;
  num_subtasks: number;
  num_acknowledged_subtasks: number;
}

export interface CompletedSubtaskCheckpointStatistics {
  className: '.SubtaskCheckpointStatistics$CompletedSubtaskCheckpointStatistics';
  index: number;
  status: 'completed';
  ack_timestamp: number;
  end_to_end_duration: number;
  persisted_data: number;
  processed_data: number;
  state_size: number;
  checkpointed_size: number;
  checkpoint: { sync: number; async: number };
  alignment: { buffered: number; processed: number; persisted: number; duration: number };
  start_delay: number;
  /** Whether the subtask took the checkpoint unaligned. */
  unaligned_checkpoint: boolean;
  aborted: boolean;
}

export interface PendingSubtaskCheckpointStatistics {
  className: '.SubtaskCheckpointStatistics$PendingSubtaskCheckpointStatistics';
  index: number;
  status: 'pending_or_failed';
}

/** GET .../checkpoints/details/:checkpointid/subtasks/:vertexid */
export interface TaskCheckpointStatisticsWithSubtaskDetails extends TaskCheckpointStatistics {
  summary: {
    checkpointed_size: StatsSummary;
    state_size: StatsSummary;
    end_to_end_duration: StatsSummary;
    checkpoint_duration: { sync: StatsSummary; async: StatsSummary };
    alignment: { buffered: StatsSummary; processed: StatsSummary; persisted: StatsSummary; duration: StatsSummary };
    start_delay: StatsSummary;
  };
  subtasks: (CompletedSubtaskCheckpointStatistics | PendingSubtaskCheckpointStatistics)[];
}

/** GET /jobs/:jobid/exceptions */
export interface JobExceptionsInfo {
  /** The failure of a FAILED job with its causes and stacks; null otherwise. */
  'root-exception': string | null;
  timestamp: number | null;
  'all-exceptions': never[];
  truncated: boolean;
  exceptionHistory: {
    entries: { exceptionName: string; stacktrace: string; timestamp: number; taskName: string | null; concurrentExceptions: never[] }[];
    truncated: boolean;
  };
}

/** Body of POST /jobs/:jobid/savepoints. */
export interface SavepointTriggerRequest {
  'target-directory'?: string;
  'cancel-job'?: boolean;
  /** Accepted for Flink's clients; weir has one savepoint format. */
  formatType?: 'CANONICAL' | 'NATIVE';
}

/** Body of POST /jobs/:jobid/stop. */
export interface StopWithSavepointRequest {
  targetDirectory?: string;
  drain?: boolean;
  formatType?: 'CANONICAL' | 'NATIVE';
}

/** Body of POST /jobs/:jobid/checkpoints; weir's checkpoints are always full. */
export interface CheckpointTriggerRequest {
  checkpointType?: 'CONFIGURED' | 'FULL' | 'INCREMENTAL';
}

/** GET /overview (Flink's ClusterOverviewWithVersion; the version and commit are weir's). */
export interface ClusterOverview {
  taskmanagers: number;
  'slots-total': number;
  'slots-available': number;
  'taskmanagers-blocked': number;
  'slots-free-and-blocked': number;
  /** Jobs not yet terminal. */
  'jobs-running': number;
  'jobs-finished': number;
  'jobs-cancelled': number;
  'jobs-failed': number;
  'flink-version': string;
  /** The git commit weir was started from, or "unknown". */
  'flink-commit': string;
}

/** One entry of GET /jobmanager/config. */
export interface ConfigurationEntry {
  key: string;
  value: string;
}

/** GET /jobs/:jobid/config */
export interface JobConfigInfo {
  jid: string;
  name: string;
  'execution-config': {
    'execution-mode': 'PIPELINED';
    /** The restart strategy in force, described in words. */
    'restart-strategy': string;
    'job-parallelism': number;
    'object-reuse-mode': boolean;
    /** Global job parameters; weir has none. */
    'user-config': Record<string, string>;
  };
}

/** One entry of GET /taskmanagers (Flink's TaskManagerInfo). */
export interface TaskManagerInfo {
  id: string;
  path: string;
  /** -1: weir's tasks exchange data over message ports, not a data port. */
  dataPort: number;
  jmxPort: number;
  /** When the TaskManager was last heard from, ms since the epoch (Flink's field name). */
  timeSinceLastHeartbeat: number;
  slotsNumber: number;
  freeSlots: number;
  /** Bytes; cpuCores of the machine. */
  hardware: { cpuCores: number; physicalMemory: number; freeMemory: number; managedMemory: number };
  blocked: boolean;
}

/** GET /taskmanagers */
export interface TaskManagersInfo {
  taskmanagers: TaskManagerInfo[];
}

/** GET /taskmanagers/:taskmanagerid (Flink's TaskManagerDetailsInfo); memory in bytes, -1 where not known. */
export interface TaskManagerDetailsInfo extends TaskManagerInfo {
  allocatedSlots: { index: number; jobId: string }[];
  metrics: {
    heapUsed: number;
    heapCommitted: number;
    heapMax: number;
    nonHeapUsed: number;
    nonHeapCommitted: number;
    nonHeapMax: number;
    directCount: number;
    directUsed: number;
    directMax: number;
    mappedCount: number;
    mappedUsed: number;
    mappedMax: number;
    memorySegmentsAvailable: number;
    memorySegmentsTotal: number;
    garbageCollectors: { name: string; count: number; time: number }[];
  };
}

/** GET /jobs/:jobid/vertices/:vertexid (Flink's JobVertexDetailsInfo). */
export interface JobVertexDetailsInfo {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism: number;
  now: number;
  subtasks: {
    subtask: number;
    status: ExecutionState;
    attempt: number;
    endpoint: string;
    host: string;
    'start-time': number;
    'end-time': number;
    duration: number;
    metrics: IOMetricsInfo;
    'taskmanager-id': string;
  }[];
}

/**
 * Flink's IOMetricsInfo: a subtask's or (summed) a vertex's I/O figures; a `-complete` flag is
 * false where a subtask has not reported the figure. Times are ms since the task started.
 */
export interface IOMetricsInfo {
  'read-bytes': number;
  'read-bytes-complete': boolean;
  'write-bytes': number;
  'write-bytes-complete': boolean;
  'read-records': number;
  'read-records-complete': boolean;
  'write-records': number;
  'write-records-complete': boolean;
  'accumulated-backpressured-time': number;
  'accumulated-idle-time': number;
  'accumulated-busy-time': number;
}

/** A metric of GET …/metrics: without `?get=` only the id; with it, the value as a string. */
export interface MetricEntry {
  id: string;
  value?: string;
}

/** A metric aggregated over subtasks (GET …/subtasks/metrics?get=…); the aggregates `agg` asked for. */
export interface AggregatedMetric {
  id: string;
  min?: number;
  max?: number;
  avg?: number;
  sum?: number;
}

/** GET /jobs/:jobid/vertices/:vertexid/subtasktimes (Flink's SubtasksTimesInfo). */
export interface SubtasksTimesInfo {
  id: string;
  name: string;
  now: number;
  subtasks: {
    subtask: number;
    host: string;
    endpoint: string;
    duration: number;
    /** When the subtask entered each execution state, ms since the epoch; 0 where it did not. */
    timestamps: Record<ExecutionState, number>;
  }[];
}

/** Flink's backpressure levels: ratio ≤ 0.1 ok, ≤ 0.5 low, else high. */
export type BackPressureLevel = 'ok' | 'low' | 'high';

/** GET /jobs/:jobid/vertices/:vertexid/backpressure (Flink's JobVertexBackPressureInfo); `deprecated`: no figures yet. */
export type JobVertexBackPressureInfo =
  | { status: 'deprecated'; 'backpressure-level'?: undefined; 'end-timestamp'?: undefined; subtasks?: undefined }
  | {
      status: 'ok';
      'backpressure-level': BackPressureLevel;
      /** When the latest figures were taken, ms since the epoch. */
      'end-timestamp': number;
      subtasks: { subtask: number; 'backpressure-level': BackPressureLevel; ratio: number; idleRatio: number; busyRatio: number }[];
    };

/** The dispatcher's jobs as Flink's job resources: overview, details (with the plan) and exceptions. */
import { JOB_STATUSES, type JobStatus } from '../../api/job-status.ts';
import type { JobInfo } from '../../cluster/dispatcher.ts';
import { assertNever } from '../../core/errors.ts';
import type { SubtaskMetrics } from '../../runtime/metrics/metric-snapshot.ts';
import { renderError } from '../rest-errors.ts';
import { ioMetrics, subtaskReports } from './io-metrics-dto.ts';
import {
  EXECUTION_STATES,
  type ExecutionState,
  type JobDetailsInfo,
  type JobDetailsOverview,
  type JobExceptionsInfo,
  type JobTaskCounts,
} from '../rest-types.ts';

/**
 * The state of every vertex while the job is in `status`. LocalJob reports the job's status, not
 * each task's, so a vertex shows its job's state (a finished bounded source of a running job
 * shows RUNNING).
 */
export function vertexState(status: JobStatus): ExecutionState {
  switch (status) {
    case 'INITIALIZING':
    case 'CREATED':
    case 'RESTARTING':
      return 'CREATED';
    case 'RUNNING':
      return 'RUNNING';
    case 'FAILING':
    case 'CANCELLING':
      return 'CANCELING';
    case 'FAILED':
      return 'FAILED';
    case 'CANCELED':
      return 'CANCELED';
    case 'FINISHED':
      return 'FINISHED';
    default:
      return assertNever(status, 'job status');
  }
}

export function byState(entries: readonly [ExecutionState, number][]): Record<ExecutionState, number> {
  const out = Object.fromEntries(EXECUTION_STATES.map((s) => [s, 0])) as Record<ExecutionState, number>;
  for (const [s, n] of entries) out[s] += n;
  return out;
}

export function overviewOf(j: JobInfo): JobDetailsOverview {
  const now = Date.now();
  const counts = byState(j.vertices.map(() => [vertexState(j.status), 1]));
  const tasks: JobTaskCounts = {
    total: j.vertices.length,
    created: counts.CREATED,
    scheduled: counts.SCHEDULED,
    deploying: counts.DEPLOYING,
    running: counts.RUNNING,
    finished: counts.FINISHED,
    canceling: counts.CANCELING,
    canceled: counts.CANCELED,
    failed: counts.FAILED,
    reconciling: counts.RECONCILING,
    initializing: counts.INITIALIZING,
  };
  return {
    jid: j.id,
    name: j.name,
    state: j.status,
    'start-time': j.startTime,
    'end-time': j.endTime ?? -1,
    duration: (j.endTime ?? now) - j.startTime,
    'last-modification': Math.max(...Object.values(j.timestamps)),
    tasks,
  };
}

/** `metrics`: the subtasks' latest reports (Dispatcher.subtaskMetrics), for each vertex's I/O figures. */
export function detailsOf(j: JobInfo, metrics: readonly SubtaskMetrics[] = []): JobDetailsInfo {
  const now = Date.now();
  const state = vertexState(j.status);
  const running = j.timestamps.RUNNING ?? -1;
  const end = j.endTime ?? -1;
  const vertices = j.vertices.map((v) => ({
    id: v.id,
    name: v.name,
    maxParallelism: v.maxParallelism,
    parallelism: v.parallelism,
    status: state,
    'start-time': running,
    'end-time': end,
    duration: running < 0 ? -1 : (end < 0 ? now : end) - running,
    tasks: byState([[state, v.parallelism]]),
    metrics: ioMetrics(subtaskReports(v, metrics)),
  }));
  const timestamps = Object.fromEntries(JOB_STATUSES.map((s) => [s, j.timestamps[s] ?? 0])) as Record<JobStatus, number>;
  return {
    jid: j.id,
    name: j.name,
    isStoppable: j.status === 'RUNNING',
    state: j.status,
    'job-type': 'STREAMING',
    'start-time': j.startTime,
    'end-time': end,
    duration: (j.endTime ?? now) - j.startTime,
    maxParallelism: Math.max(...j.vertices.map((v) => v.maxParallelism)),
    now,
    timestamps,
    vertices,
    'status-counts': byState(j.vertices.map(() => [state, 1])),
    plan: {
      jid: j.id,
      name: j.name,
      type: 'STREAMING',
      nodes: j.vertices.map((v) => ({
        id: v.id,
        parallelism: v.parallelism,
        operator: '',
        operator_strategy: '',
        description: v.name,
        ...(v.inputs.length > 0
          ? { inputs: v.inputs.map((input, num) => ({ num, id: input.id, ship_strategy: input.partitioner.toUpperCase(), exchange: 'pipelined_bounded' })) }
          : {}),
        optimizer_properties: {},
      })),
    },
  };
}

export function exceptionsOf(j: JobInfo): JobExceptionsInfo {
  const f = j.failure;
  if (!f) return { 'root-exception': null, timestamp: null, 'all-exceptions': [], truncated: false, exceptionHistory: { entries: [], truncated: false } };
  const text = renderError(f.error);
  return {
    'root-exception': text,
    timestamp: f.timestamp,
    'all-exceptions': [],
    truncated: false,
    exceptionHistory: { entries: [{ exceptionName: f.error.name, stacktrace: text, timestamp: f.timestamp, taskName: null, concurrentExceptions: [] }], truncated: false },
  };
}

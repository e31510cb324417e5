/**
 * One job vertex as Flink's REST API describes it: its subtasks with their I/O figures (GET
 * /jobs/:jobid/vertices/:vertexid) and their backpressure (…/backpressure), drawn from the
 * metrics each subtask last reported (Flink's REST handlers also serve fetched metrics, not
 * figures taken for the request).
 */
import { hostname } from 'node:os';
import type { JobInfo, VertexInfo } from '../../cluster/dispatcher.ts';
import type { SubtaskMetrics } from '../../runtime/metrics/metric-snapshot.ts';
import type { BackPressureLevel, JobVertexBackPressureInfo, JobVertexDetailsInfo, SubtasksTimesInfo } from '../rest-types.ts';
import { ioMetrics, reportsOf, value } from './io-metrics-dto.ts';
import { byState, vertexState } from './job-dto.ts';
import { TASK_MANAGER_ID } from './taskmanager-dto.ts';

/**
 * Flink's JobVertexDetailsInfo. Every subtask shows its job's state and the job's attempt (its
 * restarts), as the job's details do (job-dto.ts), with its I/O figures.
 */
export function vertexDetails(j: JobInfo, vertex: VertexInfo, metrics: readonly SubtaskMetrics[]): JobVertexDetailsInfo {
  const now = Date.now();
  const state = vertexState(j.status);
  const start = j.timestamps.RUNNING ?? -1;
  const end = j.endTime ?? -1;
  const reports = reportsOf(vertex, metrics);
  const host = hostname();
  return {
    id: vertex.id,
    name: vertex.name,
    parallelism: vertex.parallelism,
    maxParallelism: vertex.maxParallelism,
    now,
    subtasks: Array.from({ length: vertex.parallelism }, (_, subtask) => {
      const m = reports.get(subtask)?.metrics ?? [];
      return {
        subtask,
        status: state,
        attempt: j.numRestarts,
        endpoint: host,
        host,
        'start-time': start,
        'end-time': end,
        duration: start < 0 ? -1 : (end < 0 ? now : end) - start,
        metrics: ioMetrics([m]),
        'taskmanager-id': TASK_MANAGER_ID,
      };
    }),
  };
}

/** Flink's levels for the share of time back-pressured: up to 10 % ok, up to 50 % low, above high. */
export function backPressureLevel(ratio: number): BackPressureLevel {
  return ratio <= 0.1 ? 'ok' : ratio <= 0.5 ? 'low' : 'high';
}

/**
 * Flink's JobVertexBackPressureInfo from each subtask's backPressuredTimeMsPerSecond,
 * idleTimeMsPerSecond and busyTimeMsPerSecond (ratios are those over 1000 ms); the vertex's level
 * is its worst subtask's. Before every subtask has reported, the answer is Flink's
 * `{"status": "deprecated"}` (no figures yet).
 */
export function vertexBackPressure(vertex: VertexInfo, metrics: readonly SubtaskMetrics[]): JobVertexBackPressureInfo {
  const reports = reportsOf(vertex, metrics);
  const subtasks: JobVertexBackPressureInfo['subtasks'] = [];
  for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
    const m = reports.get(subtask)?.metrics ?? [];
    const bp = value(m, 'backPressuredTimeMsPerSecond');
    const idle = value(m, 'idleTimeMsPerSecond');
    const busy = value(m, 'busyTimeMsPerSecond');
    if (bp === undefined || idle === undefined || busy === undefined) return { status: 'deprecated' };
    const ratio = bp / 1000;
    subtasks.push({ subtask, 'backpressure-level': backPressureLevel(ratio), ratio, idleRatio: idle / 1000, busyRatio: busy / 1000 });
  }
  const worst = Math.max(0, ...subtasks.map((s) => s.ratio));
  return {
    status: 'ok',
    'backpressure-level': backPressureLevel(worst),
    'end-timestamp': Math.max(...[...reports.values()].map((r) => r.timestamp)),
    subtasks,
  };
}

/**
 * Flink's SubtasksTimesInfo. weir tracks its job's states, not each subtask's, so every subtask
 * shows the times its job entered the matching states (as the vertex details show the job's
 * state): CREATED at submission, RUNNING when the job last started running, and the terminal
 * state's time; 0 for a state not reached.
 */
export function subtaskTimes(j: JobInfo, vertex: VertexInfo): SubtasksTimesInfo {
  const now = Date.now();
  const host = hostname();
  const timestamps = byState([]);
  timestamps.CREATED = j.startTime;
  const running = j.timestamps.RUNNING;
  if (running !== undefined) timestamps.RUNNING = running;
  if (j.endTime !== undefined) timestamps[vertexState(j.status)] = j.endTime;
  return {
    id: vertex.id,
    name: vertex.name,
    now,
    subtasks: Array.from({ length: vertex.parallelism }, (_, subtask) => ({
      subtask,
      host,
      endpoint: host,
      duration: running === undefined ? -1 : (j.endTime ?? now) - running,
      timestamps: { ...timestamps },
    })),
  };
}

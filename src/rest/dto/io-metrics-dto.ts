/**
 * Flink's IOMetricsInfo and the metric figures the job and vertex resources read, from the
 * metrics each subtask last reported.
 */
import type { VertexInfo } from '../../cluster/dispatcher.ts';
import type { MetricSnapshot, SubtaskMetrics } from '../../runtime/metrics/metric-snapshot.ts';
import type { IOMetricsInfo } from '../rest-types.ts';

/** A task-level metric's number: a counter's count or a numeric gauge's value; undefined if not reported. */
export function value(metrics: readonly MetricSnapshot[], name: string): number | undefined {
  const m = metrics.find((x) => x.name === name && x.variables['<operator_name>'] === undefined) ?? metrics.find((x) => x.name === name);
  if (m === undefined) return undefined;
  const v = m.value;
  if (v.kind === 'counter' || v.kind === 'meter') return v.count;
  if (v.kind === 'gauge' && typeof v.value === 'number') return v.value;
  return undefined;
}

/** The reports of the vertex's subtasks, by subtask index. */
export function reportsOf(vertex: VertexInfo, metrics: readonly SubtaskMetrics[]): Map<number, SubtaskMetrics> {
  return new Map(metrics.filter((m) => m.vertex === vertex.index).map((m) => [m.subtask, m]));
}

/**
 * Flink's IOMetricsInfo summed over subtasks' latest metrics (one list per subtask): a figure
 * any of them has not reported yet is marked incomplete. Bytes are those of serialised batches
 * between threads (see task-io-metrics.ts); the accumulated times are ms since each task started.
 */
export function ioMetrics(subtasks: readonly (readonly MetricSnapshot[])[]): IOMetricsInfo {
  const sum = (name: string): { total: number; complete: boolean } => {
    let total = 0;
    let complete = subtasks.length > 0;
    for (const m of subtasks) {
      const v = value(m, name);
      if (v === undefined) complete = false;
      else total += v;
    }
    return { total, complete };
  };
  const readBytes = sum('numBytesIn');
  const writeBytes = sum('numBytesOut');
  const readRecords = sum('numRecordsIn');
  const writeRecords = sum('numRecordsOut');
  return {
    'read-bytes': readBytes.total,
    'read-bytes-complete': readBytes.complete,
    'write-bytes': writeBytes.total,
    'write-bytes-complete': writeBytes.complete,
    'read-records': readRecords.total,
    'read-records-complete': readRecords.complete,
    'write-records': writeRecords.total,
    'write-records-complete': writeRecords.complete,
    'accumulated-backpressured-time': sum('accumulatedBackPressuredTime').total,
    'accumulated-idle-time': sum('accumulatedIdleTime').total,
    'accumulated-busy-time': sum('accumulatedBusyTime').total,
  };
}

/** The latest metrics of each subtask of the vertex (empty for one that has not reported). */
export function subtaskReports(vertex: VertexInfo, metrics: readonly SubtaskMetrics[]): (readonly MetricSnapshot[])[] {
  const reports = reportsOf(vertex, metrics);
  return Array.from({ length: vertex.parallelism }, (_, i) => reports.get(i)?.metrics ?? []);
}

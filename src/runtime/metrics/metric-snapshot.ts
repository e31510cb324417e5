/**
 * A metric's value at one moment as plain data: what workers send to the job manager in
 * `metrics` messages and what the job keeps as the latest per subtask. Structured-clone safe.
 */

export type MetricKind = 'counter' | 'gauge' | 'meter' | 'histogram';

export type MetricValue =
  | { readonly kind: 'counter'; readonly count: number }
  /** A gauge's value when it was read; values that cannot cross threads become their string form. */
  | { readonly kind: 'gauge'; readonly value: number | string | boolean | null }
  | { readonly kind: 'meter'; readonly count: number; readonly rate: number }
  | {
      readonly kind: 'histogram';
      readonly count: number;
      readonly min: number;
      readonly max: number;
      readonly mean: number;
      readonly stddev: number;
      readonly p50: number;
      readonly p75: number;
      readonly p95: number;
      readonly p98: number;
      readonly p99: number;
      readonly p999: number;
    };

export interface MetricSnapshot {
  /** The metric's name within its group, e.g. `numRecordsIn`. */
  readonly name: string;
  /**
   * Its group's query scope, outermost first: the components under the fixed layout
   * (`<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>[.<operator_name>]`, the
   * JobManager's `<host>.jobmanager[.<job_name>]`) whatever the configured scope formats, which
   * the REST API's metric ids are made of.
   */
  readonly scope: readonly string[];
  /** The metric's identifier: its group's scope by the configured formats and the name, joined with the delimiter. */
  readonly identifier: string;
  /** Its group's logical scope (`taskmanager.job.task.operator` and user groups), outermost first. */
  readonly logicalScope: readonly string[];
  /** Its group's variables (`<job_id>`, `<task_name>`, `<subtask_index>`, `<operator_name>`, …). */
  readonly variables: Readonly<Record<string, string>>;
  readonly value: MetricValue;
}

/** The metrics of one subtask at one moment. */
export interface SubtaskMetrics {
  readonly vertex: number;
  readonly subtask: number;
  readonly taskName: string;
  /** When the snapshot was taken (the worker's injected clock). */
  readonly timestamp: number;
  readonly metrics: readonly MetricSnapshot[];
}

/** The metric's identifier (`getMetricIdentifier` of its group when the snapshot was taken). */
export function metricIdentifier(m: MetricSnapshot): string {
  return m.identifier;
}

/**
 * Metrics as Flink's REST API serves them (its metric store's ids and `?get=` semantics):
 *
 * - a component's metrics are `{id}` entries listing what is available, or with
 *   `?get=a,b` the `{id, value}` of those asked for that exist, values as strings;
 * - a job's metric ids are the metric names (`uptime`); a vertex's are
 *   `<subtask>.<metric>` for task metrics and `<subtask>.<operator name>.<metric>` for its
 *   operators' (user groups' names between), those of one subtask the same without the
 *   `<subtask>.` prefix;
 * - aggregated over subtasks, `{id, min, max, avg, sum}` as numbers, `agg` choosing which;
 * - a meter's value is its rate; a histogram is `<id>_min`, `_max`, `_mean`, `_median`,
 *   `_stddev`, `_p75`, `_p95`, `_p98`, `_p99`, `_p999`; a watermark not seen yet is Flink's
 *   Long.MIN_VALUE, written exactly.
 */
import type { MetricSnapshot, SubtaskMetrics } from '../../runtime/metrics/metric-snapshot.ts';
import { NO_WATERMARK } from '../../runtime/metrics/task-io-metrics.ts';
import { HttpError } from '../rest-errors.ts';
import type { AggregatedMetric, MetricEntry } from '../rest-types.ts';

/** Components of a task's scope: host, `taskmanager`, tm id, job name, task name, subtask index. */
const TASK_SCOPE_LENGTH = 6;

const text = (n: number): string => (n === NO_WATERMARK ? '-9223372036854775808' : String(n));

/** The (id, value) pairs of one metric, its id given; a gauge without a value has none. */
function valuesOf(id: string, m: MetricSnapshot): [string, string][] {
  const v = m.value;
  switch (v.kind) {
    case 'counter':
      return [[id, text(v.count)]];
    case 'meter':
      return [[id, text(v.rate)]];
    case 'gauge':
      return v.value === null ? [] : [[id, typeof v.value === 'number' ? text(v.value) : String(v.value)]];
    case 'histogram':
      return [
        [`${id}_min`, text(v.min)],
        [`${id}_max`, text(v.max)],
        [`${id}_mean`, text(v.mean)],
        [`${id}_median`, text(v.p50)],
        [`${id}_stddev`, text(v.stddev)],
        [`${id}_p75`, text(v.p75)],
        [`${id}_p95`, text(v.p95)],
        [`${id}_p98`, text(v.p98)],
        [`${id}_p99`, text(v.p99)],
        [`${id}_p999`, text(v.p999)],
      ];
  }
}

/** A component's metrics by id: `skip` scope components are the component's own, the rest become the id. */
export function metricStore(metrics: readonly MetricSnapshot[], skip: number, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of metrics) for (const [id, value] of valuesOf(prefix + [...m.scope.slice(skip), m.name].join('.'), m)) out.set(id, value);
  return out;
}

/** A vertex's metrics by `<subtask>.<id>`. */
export function vertexMetricStore(vertexIndex: number, reports: readonly SubtaskMetrics[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of reports) {
    if (r.vertex !== vertexIndex) continue;
    for (const [id, value] of metricStore(r.metrics, TASK_SCOPE_LENGTH, `${r.subtask}.`)) out.set(id, value);
  }
  return out;
}

/** One subtask's metrics by id (no subtask prefix); empty before it reported. */
export function subtaskMetricStore(vertexIndex: number, subtask: number, reports: readonly SubtaskMetrics[]): Map<string, string> {
  const r = reports.find((x) => x.vertex === vertexIndex && x.subtask === subtask);
  return r === undefined ? new Map() : metricStore(r.metrics, TASK_SCOPE_LENGTH);
}

/** `?get=a,b`: the names asked for, or undefined without the parameter. */
function wanted(get: string | undefined): string[] | undefined {
  if (get === undefined) return undefined;
  return get
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Flink's component metrics answer: the ids, or with `get` the values of those that exist. */
export function metricsAnswer(store: ReadonlyMap<string, string>, get: string | undefined): MetricEntry[] {
  const names = wanted(get);
  if (names === undefined) return [...store.keys()].sort().map((id) => ({ id }));
  return names.flatMap((id) => {
    const value = store.get(id);
    return value === undefined ? [] : [{ id, value }];
  });
}

export const AGGREGATIONS = ['min', 'max', 'avg', 'sum'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** `?agg=`: which aggregates (all by default); an unknown one is a 400. */
export function aggregationsOf(agg: string | undefined): Aggregation[] {
  if (agg === undefined) return [...AGGREGATIONS];
  const out: Aggregation[] = [];
  for (const a of agg.split(',').map((s) => s.trim().toLowerCase())) {
    if (a === '') continue;
    if (!(AGGREGATIONS as readonly string[]).includes(a)) throw new HttpError(400, `unknown aggregation "${a}" in query parameter agg (known: ${AGGREGATIONS.join(', ')})`);
    if (!out.includes(a as Aggregation)) out.push(a as Aggregation);
  }
  return out;
}

/** `?subtasks=0-2,4`: the subtask indices to aggregate over (all by default); malformed is a 400. */
export function subtasksOf(param: string | undefined, parallelism: number): Set<number> {
  const all = new Set(Array.from({ length: parallelism }, (_, i) => i));
  if (param === undefined || param.trim() === '') return all;
  const out = new Set<number>();
  for (const part of param.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new HttpError(400, `query parameter subtasks: "${part}" is not a subtask index or a range like 0-3`);
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    for (let i = from; i <= to; i++) if (all.has(i)) out.add(i);
  }
  return out;
}

/**
 * Flink's aggregated subtask metrics: per id (the subtask metric id), over the chosen subtasks
 * that report it with a number; without `get`, the ids available.
 */
export function aggregatedAnswer(
  vertexIndex: number,
  reports: readonly SubtaskMetrics[],
  subtasks: ReadonlySet<number>,
  get: string | undefined,
  aggs: readonly Aggregation[],
): MetricEntry[] | AggregatedMetric[] {
  const stores = [...subtasks].map((s) => subtaskMetricStore(vertexIndex, s, reports));
  const names = wanted(get);
  if (names === undefined) return [...new Set(stores.flatMap((s) => [...s.keys()]))].sort().map((id) => ({ id }));
  const out: AggregatedMetric[] = [];
  for (const id of names) {
    const values = stores.map((s) => Number(s.get(id))).filter((n) => Number.isFinite(n));
    if (values.length === 0) continue;
    const sum = values.reduce((a, b) => a + b, 0);
    const all: Record<Aggregation, number> = { min: Math.min(...values), max: Math.max(...values), avg: sum / values.length, sum };
    const entry: AggregatedMetric = { id };
    for (const a of aggs) entry[a] = all[a];
    out.push(entry);
  }
  return out;
}

/**
 * Metric snapshots in Prometheus's text format, named and labelled as Flink's PrometheusReporter
 * names them, with `weir` where Flink writes `flink`:
 *
 * - the name is the prefix, the group's logical scope and the metric's name joined with `_`
 *   (`weir_taskmanager_job_task_operator_numRecordsIn`), every character other than
 *   `[a-zA-Z0-9:_]` replaced by `_` (`Status.Node.Memory.RSS` → `…_Status_Node_Memory_RSS`);
 * - the labels are the group's variables without their angle brackets (`job_id`, `job_name`,
 *   `task_name`, `subtask_index`, `operator_name`, `tm_id`, `host`, …); their values get the same
 *   replacement unless `filterLabelValueCharacters` is false (Flink's option and default);
 * - counters and gauges are gauges (a Flink counter may go down); a meter is the gauge of its
 *   rate; a histogram is a gauge per quantile (label `quantile`) and `<name>_count`; gauges
 *   that are not numbers or booleans are left out.
 *
 * The text is produced by prom-client from a registry made for the one answer.
 */
import { Gauge, Registry } from 'prom-client';
import { assertNever } from '../core/errors.ts';
import type { MetricSnapshot } from '../runtime/metrics/metric-snapshot.ts';

export interface PrometheusFormatOptions {
  /** `weir` by default. */
  readonly prefix?: string;
  /** Replace characters outside `[a-zA-Z0-9:_]` in label values (Flink's default: true). */
  readonly filterLabelValueCharacters?: boolean;
}

const invalid = /[^a-zA-Z0-9:_]/g;
const filter = (s: string): string => s.replace(invalid, '_');

/** The Prometheus name of a metric: `<prefix>_<logical scope>_<name>`. */
export function prometheusName(m: Pick<MetricSnapshot, 'logicalScope' | 'name'>, prefix = 'weir'): string {
  return [prefix, ...m.logicalScope, m.name].map(filter).join('_');
}

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Family {
  readonly help: string;
  readonly labelNames: Set<string>;
  readonly samples: Sample[];
}

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.75', 'p75'],
  ['0.95', 'p95'],
  ['0.98', 'p98'],
  ['0.99', 'p99'],
  ['0.999', 'p999'],
] as const;

/** The samples of one snapshot under its name: [name suffix, extra labels, value]. */
function samplesOf(m: MetricSnapshot): [string, Record<string, string>, number][] {
  const v = m.value;
  switch (v.kind) {
    case 'counter':
      return [['', {}, v.count]];
    case 'meter':
      return [['', {}, v.rate]];
    case 'gauge':
      if (typeof v.value === 'number') return [['', {}, v.value]];
      if (typeof v.value === 'boolean') return [['', {}, v.value ? 1 : 0]];
      return [];
    case 'histogram':
      return [...QUANTILES.map(([q, key]): [string, Record<string, string>, number] => ['', { quantile: q }, v[key]]), ['_count', {}, v.count]];
    default:
      return assertNever(v, 'metric value');
  }
}

/** The snapshots as Prometheus text, and the content type to serve it with. */
export async function prometheusText(snapshots: readonly MetricSnapshot[], o: PrometheusFormatOptions = {}): Promise<{ text: string; contentType: string }> {
  const prefix = o.prefix ?? 'weir';
  const filterValues = o.filterLabelValueCharacters ?? true;
  const families = new Map<string, Family>();
  for (const m of snapshots) {
    const base = prometheusName(m, prefix);
    const labels: Record<string, string> = {};
    for (const [k, value] of Object.entries(m.variables)) labels[filter(k.replace(/^<|>$/g, ''))] = filterValues ? filter(value) : value;
    for (const [suffix, extra, value] of samplesOf(m)) {
      const name = base + suffix;
      let f = families.get(name);
      if (f === undefined) {
        f = { help: `${m.name} (scope: ${m.logicalScope.join('_')})`, labelNames: new Set(), samples: [] };
        families.set(name, f);
      }
      const all = { ...labels, ...extra };
      for (const k of Object.keys(all)) f.labelNames.add(k);
      f.samples.push({ labels: all, value });
    }
  }
  const registry = new Registry();
  for (const [name, f] of families) {
    const labelNames = [...f.labelNames].sort();
    const gauge = new Gauge({ name, help: f.help, labelNames, registers: [registry] });
    for (const s of f.samples) {
      // A family's samples carry every label name; the ones a sample's group lacks are empty.
      const labels = Object.fromEntries(labelNames.map((k) => [k, s.labels[k] ?? '']));
      gauge.set(labels, s.value);
    }
  }
  return { text: await registry.metrics(), contentType: registry.contentType };
}

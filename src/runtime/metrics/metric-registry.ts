/**
 * The metrics of one task (every group of its chain registers here), and the reporters told
 * about them (Flink's MetricRegistry, per task rather than per process: a task's metrics come
 * and go with the task). Registration happens at set-up, never per record; a snapshot reads
 * every metric once.
 */
import type { Counter, Gauge, Histogram, Meter, Metric, MetricGroup, MetricReporter } from '../../api/metrics.ts';
import { assertNever } from '../../core/errors.ts';
import { MeterView } from './meter-view.ts';
import type { MetricKind, MetricSnapshot, MetricValue } from './metric-snapshot.ts';

interface Registered {
  readonly kind: MetricKind;
  readonly metric: Metric;
  readonly name: string;
  readonly group: MetricGroup;
}

export class MetricRegistry {
  readonly #metrics = new Map<string, Registered>();
  readonly #reporters: MetricReporter[] = [];

  /**
   * Adds a metric under its group's query scope and its name (not its identifier, which the
   * configured scope formats may make equal for metrics of different groups). A second metric
   * under the same key is not registered (as Flink, which warns): the first one stays, the
   * caller keeps its object.
   */
  register(kind: MetricKind, metric: Metric, name: string, group: MetricGroup): void {
    const id = [...queryScopeOf(group), name].join('\u0000');
    if (this.#metrics.has(id)) return;
    this.#metrics.set(id, { kind, metric, name, group });
    for (const r of this.#reporters) r.notifyOfAddedMetric(metric, name, group);
  }

  /** Every metric is removed (the task ended): reporters are told, one by one. */
  clear(): void {
    for (const m of this.#metrics.values()) for (const r of this.#reporters) r.notifyOfRemovedMetric(m.metric, m.name, m.group);
    this.#metrics.clear();
  }

  /** Tells `reporter` about every metric registered so far and every later one. */
  addReporter(reporter: MetricReporter): void {
    this.#reporters.push(reporter);
    for (const m of this.#metrics.values()) reporter.notifyOfAddedMetric(m.metric, m.name, m.group);
  }

  get size(): number {
    return this.#metrics.size;
  }

  /** Every metric's value now. A gauge that throws reports null rather than failing the snapshot. */
  snapshot(): MetricSnapshot[] {
    const out: MetricSnapshot[] = [];
    for (const m of this.#metrics.values()) {
      const group = m.group;
      // The engine's groups know their logical scope (ScopedMetricGroup); another group's is its scope.
      const logicalScope = (group as { getLogicalScope?: () => readonly string[] }).getLogicalScope?.() ?? group.getScopeComponents();
      out.push({
        name: m.name,
        scope: queryScopeOf(group),
        identifier: group.getMetricIdentifier(m.name),
        logicalScope,
        variables: group.getAllVariables(),
        value: readMetric(m),
      });
    }
    return out;
  }
}

/** The engine's groups have a query scope independent of the formats (ScopedMetricGroup); another group's is its scope. */
function queryScopeOf(group: MetricGroup): readonly string[] {
  return (group as { getQueryScope?: () => readonly string[] }).getQueryScope?.() ?? group.getScopeComponents();
}

function readMetric(m: Registered): MetricValue {
  switch (m.kind) {
    case 'counter':
      return { kind: 'counter', count: (m.metric as Counter).getCount() };
    case 'gauge': {
      let v: unknown;
      try {
        v = (m.metric as Gauge<unknown>).getValue();
      } catch {
        v = null;
      }
      return { kind: 'gauge', value: v === null || v === undefined ? null : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : String(v) };
    }
    case 'meter': {
      const meter = m.metric as Meter;
      if (meter instanceof MeterView) meter.update();
      return { kind: 'meter', count: meter.getCount(), rate: meter.getRate() };
    }
    case 'histogram': {
      const h = m.metric as Histogram;
      const s = h.getStatistics();
      return {
        kind: 'histogram',
        count: h.getCount(),
        min: s.getMin(),
        max: s.getMax(),
        mean: s.getMean(),
        stddev: s.getStdDev(),
        p50: s.getQuantile(0.5),
        p75: s.getQuantile(0.75),
        p95: s.getQuantile(0.95),
        p98: s.getQuantile(0.98),
        p99: s.getQuantile(0.99),
        p999: s.getQuantile(0.999),
      };
    }
    default:
      return assertNever(m.kind, 'metric kind');
  }
}

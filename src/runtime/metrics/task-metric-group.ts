/**
 * Metric groups of a task and of the operators of its chain, with Flink's scopes:
 * task `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>`, operator
 * `<task scope>.<operator_name>`, and user subgroups below. Every group registers into the
 * task's `MetricRegistry`.
 */
import type { Counter, Gauge, Histogram, Meter, MetricGroup } from '../../api/metrics.ts';
import type { Clock } from '../../core/time.ts';
import { MeterView } from './meter-view.ts';
import type { MetricRegistry } from './metric-registry.ts';
import { SimpleCounter } from './simple-counter.ts';
import { SlidingWindowHistogram } from './sliding-window-histogram.ts';

/** Where a task runs and what it is, for its metrics' scope and variables. */
export interface TaskMetricScope {
  readonly host: string;
  readonly taskManagerId: string;
  readonly jobId: string;
  readonly jobName: string;
  readonly taskName: string;
  readonly subtaskIndex: number;
  readonly attemptNumber: number;
}

/** A metric group: scope components, variables, and the registry its metrics go to. */
export class ScopedMetricGroup implements MetricGroup {
  readonly #registry: MetricRegistry;
  readonly #clock: Clock;
  readonly #scope: readonly string[];
  readonly #variables: Readonly<Record<string, string>>;
  readonly #children = new Map<string, ScopedMetricGroup>();

  constructor(registry: MetricRegistry, clock: Clock, scope: readonly string[], variables: Readonly<Record<string, string>>) {
    this.#registry = registry;
    this.#clock = clock;
    this.#scope = Object.freeze([...scope]);
    this.#variables = Object.freeze({ ...variables });
  }

  counter(name: string, counter: Counter = new SimpleCounter()): Counter {
    this.#registry.register('counter', counter, name, this);
    return counter;
  }

  gauge<T>(name: string, gauge: Gauge<T> | (() => T)): Gauge<T> {
    const g: Gauge<T> = typeof gauge === 'function' ? { getValue: gauge } : gauge;
    this.#registry.register('gauge', g, name, this);
    return g;
  }

  meter(name: string, meter: Meter = new MeterView(this.#clock)): Meter {
    this.#registry.register('meter', meter, name, this);
    return meter;
  }

  histogram(name: string, histogram: Histogram = new SlidingWindowHistogram()): Histogram {
    this.#registry.register('histogram', histogram, name, this);
    return histogram;
  }

  addGroup(name: string): MetricGroup;
  addGroup(key: string, value: string): MetricGroup;
  addGroup(key: string, value?: string): MetricGroup {
    const id = value === undefined ? key : `${key}\u0000${value}`;
    let child = this.#children.get(id);
    if (child === undefined) {
      const scope = value === undefined ? [...this.#scope, key] : [...this.#scope, key, value];
      const variables = value === undefined ? this.#variables : { ...this.#variables, [`<${key}>`]: value };
      child = new ScopedMetricGroup(this.#registry, this.#clock, scope, variables);
      this.#children.set(id, child);
    }
    return child;
  }

  getScopeComponents(): readonly string[] {
    return this.#scope;
  }

  getAllVariables(): Readonly<Record<string, string>> {
    return this.#variables;
  }

  getMetricIdentifier(metricName: string): string {
    return [...this.#scope, metricName].join('.');
  }
}

/** The group of one subtask: `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>`. */
export function taskMetricGroup(registry: MetricRegistry, clock: Clock, s: TaskMetricScope): ScopedMetricGroup {
  return new ScopedMetricGroup(registry, clock, [s.host, 'taskmanager', s.taskManagerId, s.jobName, s.taskName, String(s.subtaskIndex)], {
    '<host>': s.host,
    '<tm_id>': s.taskManagerId,
    '<job_id>': s.jobId,
    '<job_name>': s.jobName,
    '<task_name>': s.taskName,
    '<subtask_index>': String(s.subtaskIndex),
    '<attempt_num>': String(s.attemptNumber),
  });
}

/** The group of one operator of the task's chain: the task's scope and `<operator_name>`. */
export function operatorMetricGroup(task: ScopedMetricGroup, registry: MetricRegistry, clock: Clock, operatorName: string, operatorId: string): ScopedMetricGroup {
  return new ScopedMetricGroup(registry, clock, [...task.getScopeComponents(), operatorName], {
    ...task.getAllVariables(),
    '<operator_name>': operatorName,
    '<operator_id>': operatorId,
  });
}

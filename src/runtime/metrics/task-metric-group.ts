/**
 * Metric groups with Flink's scopes: a task's
 * `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>`, an operator's
 * `<task scope>.<operator_name>`, user subgroups below; and the process-side groups of the
 * JobManager (`<host>.jobmanager`), its jobs (`<host>.jobmanager.<job_name>`) and a TaskManager
 * (`<host>.taskmanager.<tm_id>`). Every group registers into a `MetricRegistry`.
 *
 * Besides its scope components every group has a logical scope, Flink's: the kind of each
 * level rather than its value (`taskmanager.job.task.operator`, a user group's name, a
 * key/value group's key). Reporters with labels (Prometheus) name metrics by it and carry the
 * values as labels.
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
  /** The vertex id (Flink's `<task_id>`), when known. */
  readonly taskId?: string;
}

/** A metric group: scope components, variables, and the registry its metrics go to. */
export class ScopedMetricGroup implements MetricGroup {
  readonly #registry: MetricRegistry;
  readonly #clock: Clock;
  readonly #scope: readonly string[];
  readonly #variables: Readonly<Record<string, string>>;
  readonly #logicalScope: readonly string[];
  readonly #children = new Map<string, ScopedMetricGroup>();

  constructor(
    registry: MetricRegistry,
    clock: Clock,
    scope: readonly string[],
    variables: Readonly<Record<string, string>>,
    logicalScope: readonly string[] = scope,
  ) {
    this.#registry = registry;
    this.#clock = clock;
    this.#scope = Object.freeze([...scope]);
    this.#variables = Object.freeze({ ...variables });
    this.#logicalScope = Object.freeze([...logicalScope]);
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
      child = new ScopedMetricGroup(this.#registry, this.#clock, scope, variables, [...this.#logicalScope, key]);
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

  /** Flink's logical scope: `taskmanager.job.task.operator` and the user groups' names (a key/value group's key). */
  getLogicalScope(): readonly string[] {
    return this.#logicalScope;
  }

  getMetricIdentifier(metricName: string): string {
    return [...this.#scope, metricName].join('.');
  }
}

/** The group of one subtask: `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>`. */
export function taskMetricGroup(registry: MetricRegistry, clock: Clock, s: TaskMetricScope): ScopedMetricGroup {
  return new ScopedMetricGroup(
    registry,
    clock,
    [s.host, 'taskmanager', s.taskManagerId, s.jobName, s.taskName, String(s.subtaskIndex)],
    {
      '<host>': s.host,
      '<tm_id>': s.taskManagerId,
      '<job_id>': s.jobId,
      '<job_name>': s.jobName,
      ...(s.taskId === undefined ? {} : { '<task_id>': s.taskId }),
      '<task_name>': s.taskName,
      '<subtask_index>': String(s.subtaskIndex),
      '<task_attempt_num>': String(s.attemptNumber),
    },
    ['taskmanager', 'job', 'task'],
  );
}

/** The group of one operator of the task's chain: the task's scope and `<operator_name>`. */
export function operatorMetricGroup(task: ScopedMetricGroup, registry: MetricRegistry, clock: Clock, operatorName: string, operatorId: string): ScopedMetricGroup {
  return new ScopedMetricGroup(
    registry,
    clock,
    [...task.getScopeComponents(), operatorName],
    { ...task.getAllVariables(), '<operator_name>': operatorName, '<operator_id>': operatorId },
    [...task.getLogicalScope(), 'operator'],
  );
}

/** The JobManager process's group: `<host>.jobmanager`. */
export function jobManagerMetricGroup(registry: MetricRegistry, clock: Clock, host: string): ScopedMetricGroup {
  return new ScopedMetricGroup(registry, clock, [host, 'jobmanager'], { '<host>': host }, ['jobmanager']);
}

/** A job's group on the JobManager: `<host>.jobmanager.<job_name>`. */
export function jobMetricGroup(registry: MetricRegistry, clock: Clock, s: { host: string; jobId: string; jobName: string }): ScopedMetricGroup {
  return new ScopedMetricGroup(
    registry,
    clock,
    [s.host, 'jobmanager', s.jobName],
    { '<host>': s.host, '<job_id>': s.jobId, '<job_name>': s.jobName },
    ['jobmanager', 'job'],
  );
}

/** A TaskManager process's group: `<host>.taskmanager.<tm_id>`. */
export function taskManagerMetricGroup(registry: MetricRegistry, clock: Clock, s: { host: string; taskManagerId: string }): ScopedMetricGroup {
  return new ScopedMetricGroup(registry, clock, [s.host, 'taskmanager', s.taskManagerId], { '<host>': s.host, '<tm_id>': s.taskManagerId }, ['taskmanager']);
}

/**
 * Metric groups with Flink's scopes: a task's, an operator's, user subgroups below; and the
 * process-side groups of the JobManager, its jobs and a TaskManager. Every group registers into
 * a `MetricRegistry`.
 *
 * A group's scope components, and so its metric identifiers, come from the scope formats
 * (`metrics.scope.*`, api/metric-scope-format.ts; Flink's defaults unless configured). Besides
 * them every group keeps its *query scope*: the components under the fixed layout
 * `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>.<operator_name>` (the
 * JobManager's `<host>.jobmanager[.<job_name>]`, the TaskManager's `<host>.taskmanager.<tm_id>`),
 * which the registry keys metrics by and the REST API makes its metric ids from, so that neither
 * depends on the configured formats (as Flink's query service).
 *
 * Besides its scope components every group has a logical scope, Flink's: the kind of each
 * level rather than its value (`taskmanager.job.task.operator`, a user group's name, a
 * key/value group's key). Reporters with labels (Prometheus) name metrics by it and carry the
 * values as labels.
 */
import type { Counter, Gauge, Histogram, Meter, MetricGroup } from '../../api/metrics.ts';
import { applyScopeFormat, DEFAULT_SCOPES, type ScopeFormats } from '../../api/metric-scope-format.ts';
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

/** What makes a group: its scopes, variables, and the formats its children are made with. */
export interface GroupScope {
  /** Scope components by the formats. */
  readonly scope: readonly string[];
  /** Scope components under the fixed layout (see above). */
  readonly queryScope: readonly string[];
  readonly variables: Readonly<Record<string, string>>;
  readonly logicalScope: readonly string[];
  readonly formats: ScopeFormats;
}

/** A metric group: scope components, variables, and the registry its metrics go to. */
export class ScopedMetricGroup implements MetricGroup {
  readonly #registry: MetricRegistry;
  readonly #clock: Clock;
  readonly #s: GroupScope;
  readonly #children = new Map<string, ScopedMetricGroup>();

  constructor(registry: MetricRegistry, clock: Clock, s: GroupScope) {
    this.#registry = registry;
    this.#clock = clock;
    this.#s = Object.freeze({
      scope: Object.freeze([...s.scope]),
      queryScope: Object.freeze([...s.queryScope]),
      variables: Object.freeze({ ...s.variables }),
      logicalScope: Object.freeze([...s.logicalScope]),
      formats: s.formats,
    });
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
      const s = this.#s;
      const own = value === undefined ? [key] : [key, value];
      child = new ScopedMetricGroup(this.#registry, this.#clock, {
        scope: [...s.scope, ...own],
        queryScope: [...s.queryScope, ...own],
        variables: value === undefined ? s.variables : { ...s.variables, [`<${key}>`]: value },
        logicalScope: [...s.logicalScope, key],
        formats: s.formats,
      });
      this.#children.set(id, child);
    }
    return child;
  }

  getScopeComponents(): readonly string[] {
    return this.#s.scope;
  }

  getAllVariables(): Readonly<Record<string, string>> {
    return this.#s.variables;
  }

  /** Flink's logical scope: `taskmanager.job.task.operator` and the user groups' names (a key/value group's key). */
  getLogicalScope(): readonly string[] {
    return this.#s.logicalScope;
  }

  /** The scope under the fixed layout, independent of the formats (see above). */
  getQueryScope(): readonly string[] {
    return this.#s.queryScope;
  }

  /** The formats this group and its children were made with. */
  getScopeFormats(): ScopeFormats {
    return this.#s.formats;
  }

  /** The scope components and the name joined with the configured delimiter (`.` by default). */
  getMetricIdentifier(metricName: string): string {
    return [...this.#s.scope, metricName].join(this.#s.formats.delimiter);
  }
}

/** The scope of a TaskManager's job (`metrics.scope.tm-job`), the parent of its tasks' scopes. */
function taskManagerJobScope(formats: ScopeFormats, variables: Readonly<Record<string, string>>): string[] {
  return applyScopeFormat(formats.formats['tm-job'], variables, applyScopeFormat(formats.formats.tm, variables));
}

/** The group of one subtask (`metrics.scope.task`; query scope `<host>.taskmanager.<tm_id>.<job_name>.<task_name>.<subtask_index>`). */
export function taskMetricGroup(registry: MetricRegistry, clock: Clock, s: TaskMetricScope, formats: ScopeFormats = DEFAULT_SCOPES): ScopedMetricGroup {
  const variables: Record<string, string> = {
    '<host>': s.host,
    '<tm_id>': s.taskManagerId,
    '<job_id>': s.jobId,
    '<job_name>': s.jobName,
    ...(s.taskId === undefined ? {} : { '<task_id>': s.taskId }),
    '<task_name>': s.taskName,
    '<subtask_index>': String(s.subtaskIndex),
    '<task_attempt_num>': String(s.attemptNumber),
  };
  return new ScopedMetricGroup(registry, clock, {
    scope: applyScopeFormat(formats.formats.task, variables, taskManagerJobScope(formats, variables)),
    queryScope: [s.host, 'taskmanager', s.taskManagerId, s.jobName, s.taskName, String(s.subtaskIndex)],
    variables,
    logicalScope: ['taskmanager', 'job', 'task'],
    formats,
  });
}

/** The group of one operator of the task's chain (`metrics.scope.operator`; query scope the task's and `<operator_name>`). */
export function operatorMetricGroup(task: ScopedMetricGroup, registry: MetricRegistry, clock: Clock, operatorName: string, operatorId: string): ScopedMetricGroup {
  const formats = task.getScopeFormats();
  const variables = { ...task.getAllVariables(), '<operator_name>': operatorName, '<operator_id>': operatorId };
  return new ScopedMetricGroup(registry, clock, {
    scope: applyScopeFormat(formats.formats.operator, variables, task.getScopeComponents()),
    queryScope: [...task.getQueryScope(), operatorName],
    variables,
    logicalScope: [...task.getLogicalScope(), 'operator'],
    formats,
  });
}

/** The JobManager process's group (`metrics.scope.jm`; query scope `<host>.jobmanager`). */
export function jobManagerMetricGroup(registry: MetricRegistry, clock: Clock, host: string, formats: ScopeFormats = DEFAULT_SCOPES): ScopedMetricGroup {
  const variables = { '<host>': host };
  return new ScopedMetricGroup(registry, clock, {
    scope: applyScopeFormat(formats.formats.jm, variables),
    queryScope: [host, 'jobmanager'],
    variables,
    logicalScope: ['jobmanager'],
    formats,
  });
}

/** A job's group on the JobManager (`metrics.scope.jm-job`; query scope `<host>.jobmanager.<job_name>`). */
export function jobMetricGroup(
  registry: MetricRegistry,
  clock: Clock,
  s: { host: string; jobId: string; jobName: string },
  formats: ScopeFormats = DEFAULT_SCOPES,
): ScopedMetricGroup {
  const variables = { '<host>': s.host, '<job_id>': s.jobId, '<job_name>': s.jobName };
  return new ScopedMetricGroup(registry, clock, {
    scope: applyScopeFormat(formats.formats['jm-job'], variables, applyScopeFormat(formats.formats.jm, variables)),
    queryScope: [s.host, 'jobmanager', s.jobName],
    variables,
    logicalScope: ['jobmanager', 'job'],
    formats,
  });
}

/** A TaskManager process's group (`metrics.scope.tm`; query scope `<host>.taskmanager.<tm_id>`). */
export function taskManagerMetricGroup(
  registry: MetricRegistry,
  clock: Clock,
  s: { host: string; taskManagerId: string },
  formats: ScopeFormats = DEFAULT_SCOPES,
): ScopedMetricGroup {
  const variables = { '<host>': s.host, '<tm_id>': s.taskManagerId };
  return new ScopedMetricGroup(registry, clock, {
    scope: applyScopeFormat(formats.formats.tm, variables),
    queryScope: [s.host, 'taskmanager', s.taskManagerId],
    variables,
    logicalScope: ['taskmanager'],
    formats,
  });
}

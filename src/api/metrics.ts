/**
 * Flink's metric API: user functions register metrics on the metric group of their runtime
 * context (`getRuntimeContext().getMetricGroup()`), and the engine registers its own (records in
 * and out) on the same groups. A metric is registered once, at open; updating it is a plain field
 * update, cheap enough for the path of every record.
 *
 * Scope: every group has scope components (`getScopeComponents()`, e.g. host, `taskmanager`,
 * task manager id, job name, operator name, subtask index) that name its metrics
 * (`<scope>.<metric>`), made by the scope formats (`metrics.scope.*`, metric-scope-format.ts),
 * and variables (`<job_id>`, `<task_name>`, `<subtask_index>`, `<operator_name>`, …) that the
 * formats are filled from and that reporters with labels (Prometheus) use instead of the name's
 * parts.
 */

/** A count that goes up and down. */
export interface Counter {
  inc(n?: number): void;
  dec(n?: number): void;
  getCount(): number;
}

/** A value read when it is reported: the function given at registration is called then. */
export interface Gauge<T> {
  getValue(): T;
}

/** Events per second, averaged over a time span. */
export interface Meter {
  markEvent(n?: number): void;
  /** Events per second over the meter's time span. */
  getRate(): number;
  /** Events marked in total. */
  getCount(): number;
}

/** The distribution of the values a histogram was updated with (over its window). */
export interface HistogramStatistics {
  /** The value at quantile `q` (0..1). */
  getQuantile(q: number): number;
  getValues(): number[];
  size(): number;
  getMean(): number;
  getStdDev(): number;
  getMax(): number;
  getMin(): number;
}

export interface Histogram {
  update(value: number): void;
  /** Updates in total (not only those still in the window). */
  getCount(): number;
  getStatistics(): HistogramStatistics;
}

export type Metric = Counter | Gauge<unknown> | Meter | Histogram;

export interface MetricGroup {
  /** Registers a counter; the engine's own when none is given. */
  counter(name: string, counter?: Counter): Counter;
  /** Registers a gauge: an object with `getValue()`, or the function that computes its value. */
  gauge<T>(name: string, gauge: Gauge<T> | (() => T)): Gauge<T>;
  /** Registers a meter; by default the rate of a new counter over 60 seconds. */
  meter(name: string, meter?: Meter): Meter;
  /** Registers a histogram; by default over a window of the latest values. */
  histogram(name: string, histogram?: Histogram): Histogram;
  /** A subgroup named `name`, or a key/value subgroup (also adding the variable `<key>`). */
  addGroup(name: string): MetricGroup;
  addGroup(key: string, value: string): MetricGroup;
  /** This group's scope, outermost first. */
  getScopeComponents(): readonly string[];
  /** Variables of this group and its parents, keys in angle brackets (`<task_name>`). */
  getAllVariables(): Readonly<Record<string, string>>;
  /** The metric's full name: scope components and metric name joined with the delimiter (`metrics.scope.delimiter`, '.' by default). */
  getMetricIdentifier(metricName: string): string;
}

/** The configuration a reporter is opened with (its `metrics.reporter.<name>.*` keys, without the prefix). */
export type MetricConfig = Readonly<Record<string, string>>;

/**
 * Exports metrics to an outside system (Flink's MetricReporter). The registry tells the
 * reporter about every metric added or removed; a reporter that pushes (rather than being
 * scraped) also implements `Scheduled` and is called on its interval.
 */
export interface MetricReporter {
  open(config: MetricConfig): void;
  close(): void;
  notifyOfAddedMetric(metric: Metric, metricName: string, group: MetricGroup): void;
  notifyOfRemovedMetric(metric: Metric, metricName: string, group: MetricGroup): void;
}

/** A reporter that reports on an interval. */
export interface Scheduled {
  report(): void;
}

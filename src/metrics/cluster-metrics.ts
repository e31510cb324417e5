/**
 * Every metric of a weir cluster as one list of snapshots, the way reporters and GET /metrics
 * see them: the JobManager process (`<host>.jobmanager`), the TaskManager process
 * (`<host>.taskmanager.<tm_id>`), and for every job that is not terminal its JobManager metrics
 * (`<host>.jobmanager.<job_name>`) and the latest report of each of its subtasks (task and
 * operator scopes). Jobs that ended are left out, as Flink removes their groups.
 *
 * The slots of a cluster are worker threads of one process (this one, or the TaskManager
 * process `weir start-cluster` starts), so the TaskManager group stands for that TaskManager with
 * the id its tasks carry and the REST API names it by (`<host>-taskmanager-1`); its process
 * figures are this process's.
 *
 * `jobManagerScope()` is what a JobManager process's own reporters serve when the TaskManager is
 * a process with reporters of its own (taskmanager-metrics.ts): the JobManager and job scopes,
 * so that no series is reported by both.
 */
import { hostname } from 'node:os';
import { isTerminalJobStatus } from '../api/job-status.ts';
import { DEFAULT_SCOPES, type ScopeFormats } from '../api/metric-scope-format.ts';
import type { Dispatcher } from '../cluster/dispatcher.ts';
import { systemScheduler, type Clock } from '../core/time.ts';
import { MetricRegistry } from '../runtime/metrics/metric-registry.ts';
import type { MetricSnapshot } from '../runtime/metrics/metric-snapshot.ts';
import { registerProcessMetrics } from '../runtime/metrics/process-metrics.ts';
import { jobManagerMetricGroup, taskManagerMetricGroup } from '../runtime/metrics/task-metric-group.ts';
import { TASK_MANAGER_ID } from '../runtime/slot.ts';

/** The id a cluster's tasks carry as `<tm_id>` (their slots are not told another), the REST API's TaskManager id. */
export const CLUSTER_TASK_MANAGER_ID = TASK_MANAGER_ID;

export class ClusterMetrics {
  readonly #dispatcher: Dispatcher;
  readonly #jobManager = new MetricRegistry();
  readonly #taskManager = new MetricRegistry();

  /** `scopes`: the formats of the process groups (`metrics.scope.jm`, `.tm`, `.delimiter` of the cluster's configuration). */
  constructor(dispatcher: Dispatcher, clock: Clock = systemScheduler, scopes: ScopeFormats = DEFAULT_SCOPES) {
    this.#dispatcher = dispatcher;
    const host = hostname();
    registerProcessMetrics(jobManagerMetricGroup(this.#jobManager, clock, host, scopes), clock);
    registerProcessMetrics(taskManagerMetricGroup(this.#taskManager, clock, { host, taskManagerId: CLUSTER_TASK_MANAGER_ID }, scopes), clock);
  }

  /** The JobManager process's metrics now. */
  jobManager(): MetricSnapshot[] {
    return this.#jobManager.snapshot();
  }

  /** The TaskManager's process metrics now. */
  taskManager(): MetricSnapshot[] {
    return this.#taskManager.snapshot();
  }

  /** The JobManager process's metrics and those of every job that is not terminal. */
  jobManagerScope(): MetricSnapshot[] {
    const out = this.jobManager();
    const d = this.#dispatcher;
    for (const job of d.jobs()) if (!isTerminalJobStatus(job.status)) out.push(...d.jobMetrics(job.id));
    return out;
  }

  /** Everything, as above. */
  snapshot(): MetricSnapshot[] {
    const out = [...this.jobManager(), ...this.taskManager()];
    const d = this.#dispatcher;
    for (const job of d.jobs()) {
      if (isTerminalJobStatus(job.status)) continue;
      out.push(...d.jobMetrics(job.id));
      for (const subtask of d.subtaskMetrics(job.id)) out.push(...subtask.metrics);
    }
    return out;
  }
}

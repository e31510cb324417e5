/**
 * The metrics a TaskManager process reports on its own endpoints, as Flink's TaskManagers do:
 * its TaskManager group (`<host>.taskmanager.<tm_id>`, the process figures of this very process)
 * and the latest report of every subtask running in its slots (task and operator scopes).
 *
 * Reports arrive as the slots send them to the JobManager (every second and once more at the
 * end), per deployment (one worker group of one execution attempt); a deployment's are dropped
 * once it is terminated, so a restarted job shows only its live attempt, and an ended job nothing.
 * The JobManager's endpoints report the JobManager and job scopes, so a Prometheus scraping both
 * sees every series once.
 */
import { hostname } from 'node:os';
import { DEFAULT_SCOPES, type ScopeFormats } from '../api/metric-scope-format.ts';
import { systemScheduler, type Clock } from '../core/time.ts';
import { MetricRegistry } from '../runtime/metrics/metric-registry.ts';
import type { MetricSnapshot, SubtaskMetrics } from '../runtime/metrics/metric-snapshot.ts';
import { registerProcessMetrics } from '../runtime/metrics/process-metrics.ts';
import { taskManagerMetricGroup } from '../runtime/metrics/task-metric-group.ts';
import { TASK_MANAGER_ID } from '../runtime/slot.ts';

export class TaskManagerMetrics {
  readonly #process = new MetricRegistry();
  /** deployment → slot → the slot's latest report. */
  readonly #reports = new Map<string, Map<number, readonly SubtaskMetrics[]>>();

  /** `scopes`: the formats of the TaskManager group (`metrics.scope.tm`, `.delimiter` of the cluster's configuration). */
  constructor(clock: Clock = systemScheduler, taskManagerId: string = TASK_MANAGER_ID, scopes: ScopeFormats = DEFAULT_SCOPES) {
    registerProcessMetrics(taskManagerMetricGroup(this.#process, clock, { host: hostname(), taskManagerId }, scopes), clock);
  }

  /** A slot's latest report of its subtasks replaces its previous one. */
  report(deployment: string, slot: number, subtasks: readonly SubtaskMetrics[]): void {
    let bySlot = this.#reports.get(deployment);
    if (bySlot === undefined) {
      bySlot = new Map();
      this.#reports.set(deployment, bySlot);
    }
    bySlot.set(slot, subtasks);
  }

  /** The deployment was terminated: its subtasks report nothing any more. */
  drop(deployment: string): void {
    this.#reports.delete(deployment);
  }

  /** Every metric of this TaskManager now. */
  snapshot(): MetricSnapshot[] {
    const out = this.#process.snapshot();
    for (const bySlot of this.#reports.values()) {
      for (const subtasks of bySlot.values()) for (const s of subtasks) out.push(...s.metrics);
    }
    return out;
  }
}

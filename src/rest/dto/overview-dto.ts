/**
 * The cluster as Flink's REST API describes it: the cluster overview (GET /overview), the
 * JobManager's configuration (GET /jobmanager/config) and a job's execution configuration
 * (GET /jobs/:jobid/config).
 */
import { isTerminalJobStatus } from '../../api/job-status.ts';
import { defaultRestartStrategy, type RestartStrategyConfiguration } from '../../api/restart-strategies.ts';
import type { JobInfo } from '../../cluster/dispatcher.ts';
import { assertNever } from '../../core/errors.ts';
import type { ClusterOverview, ConfigurationEntry, JobConfigInfo } from '../rest-types.ts';

/**
 * Flink's ClusterOverviewWithVersion. weir's slots belong to one TaskManager (the worker threads
 * of the JobManager's process, or the TaskManager process of a started cluster), so
 * `taskmanagers` is 1. A job not yet terminal counts as running, as Flink counts running and
 * pending jobs together.
 */
export function clusterOverview(o: { slots: number; freeSlots: number; jobs: readonly JobInfo[]; version: string; revision: string }): ClusterOverview {
  const count = (pred: (j: JobInfo) => boolean): number => o.jobs.filter(pred).length;
  return {
    taskmanagers: 1,
    'slots-total': o.slots,
    'slots-available': o.freeSlots,
    'taskmanagers-blocked': 0,
    'slots-free-and-blocked': 0,
    'jobs-running': count((j) => !isTerminalJobStatus(j.status)),
    'jobs-finished': count((j) => j.status === 'FINISHED'),
    'jobs-cancelled': count((j) => j.status === 'CANCELED'),
    'jobs-failed': count((j) => j.status === 'FAILED'),
    'flink-version': o.version,
    'flink-commit': o.revision,
  };
}

/** Configuration as Flink lists it: one {key, value} per entry, sorted by key, values as strings. */
export function configurationEntries(config: Readonly<Record<string, unknown>>): ConfigurationEntry[] {
  return Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: typeof v === 'string' ? v : JSON.stringify(v) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A restart strategy in the words of Flink's RestartStrategy descriptions. */
export function describeRestartStrategy(s: RestartStrategyConfiguration): string {
  switch (s.kind) {
    case 'none':
      return 'Restart deactivated.';
    case 'fixed-delay':
      return `Restart with fixed delay (${s.delayMs} ms). #${s.attempts} restart attempts.`;
    case 'failure-rate':
      return `Failure rate restart with maximum of ${s.maxFailuresPerInterval} failures within interval ${s.failureRateIntervalMs} ms and fixed delay ${s.delayMs} ms.`;
    case 'exponential-delay':
      return `Restart with exponential delay: starting at ${s.initialBackoffMs} ms, increasing by ${s.backoffMultiplier}, with maximum ${s.maxBackoffMs} ms. Delay resets after ${s.resetBackoffThresholdMs} ms, with jitter factor ${s.jitterFactor}.`;
    default:
      return assertNever(s, 'restart strategy');
  }
}

/**
 * Flink's JobConfigInfo. weir's jobs are always pipelined streaming jobs that do not reuse
 * objects between chained operators, and have no global job parameters (an empty user-config).
 */
export function jobConfigOf(j: JobInfo): JobConfigInfo {
  const strategy = j.config['restart-strategy'] ?? defaultRestartStrategy(j.config['execution.checkpointing.interval'] !== undefined);
  return {
    jid: j.id,
    name: j.name,
    'execution-config': {
      'execution-mode': 'PIPELINED',
      'restart-strategy': describeRestartStrategy(strategy),
      'job-parallelism': j.config['parallelism.default'],
      'object-reuse-mode': false,
      'user-config': {},
    },
  };
}

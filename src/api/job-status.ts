/**
 * The statuses of a job, with Flink's JobStatus names, and the transitions between them: the one
 * place that says which status may follow which. The runtime (LocalJob) moves a job only through
 * `nextJobStatus`, which refuses a transition the table does not list.
 *
 *   INITIALIZING ─► RUNNING ◄──► RESTARTING
 *        │             │              │
 *        └─────────────┴──────────────┴──► FAILING ─► FAILED
 *                                     └──► CANCELLING ─► CANCELED
 *                          RUNNING ──────► FINISHED
 *
 * A job is INITIALIZING from submission until its first attempt is deployed, RUNNING while an
 * attempt runs, RESTARTING between a failure and the next attempt (the restart strategy allowed
 * one). FAILING and CANCELLING are the phase in which a job has decided its end but its threads
 * are still stopping; the runtime enters the terminal status directly (it becomes terminal at
 * once, so nothing the stopping attempt still reports is taken for an outcome) and the cluster
 * reports these two while it waits for the threads (cluster/job-table.ts). CREATED is Flink's
 * status of a job that is scheduled but not yet deploying; weir's jobs deploy at once and never
 * show it. Flink's SUSPENDED and RECONCILING (a JobManager failover) do not exist in weir.
 */
export type JobStatus = 'INITIALIZING' | 'CREATED' | 'RUNNING' | 'FAILING' | 'FAILED' | 'CANCELLING' | 'CANCELED' | 'FINISHED' | 'RESTARTING';

/** Every status, in Flink's order. */
export const JOB_STATUSES: readonly JobStatus[] = ['INITIALIZING', 'CREATED', 'RUNNING', 'FAILING', 'FAILED', 'CANCELLING', 'CANCELED', 'FINISHED', 'RESTARTING'];

/** Statuses a job never leaves. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['FAILED', 'CANCELED', 'FINISHED']);

/**
 * The legal transitions: status → the statuses that may follow it. A failure while an attempt is
 * being deployed (INITIALIZING, RESTARTING) restarts or fails the job like a failure while it
 * runs; RESTARTING → RESTARTING is a failure of the attempt that was being redeployed.
 */
export const JOB_STATUS_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  INITIALIZING: ['CREATED', 'RUNNING', 'RESTARTING', 'FAILING', 'FAILED', 'CANCELLING', 'CANCELED'],
  CREATED: ['RUNNING', 'FAILING', 'FAILED', 'CANCELLING', 'CANCELED'],
  RUNNING: ['RESTARTING', 'FINISHED', 'FAILING', 'FAILED', 'CANCELLING', 'CANCELED'],
  RESTARTING: ['RUNNING', 'RESTARTING', 'FAILING', 'FAILED', 'CANCELLING', 'CANCELED'],
  FAILING: ['FAILED', 'RESTARTING', 'CANCELLING', 'CANCELED'],
  CANCELLING: ['CANCELED'],
  FAILED: [],
  CANCELED: [],
  FINISHED: [],
};

export function isTerminalJobStatus(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.has(status);
}

/** A transition the table does not allow: a bug in whatever tried it. */
export class IllegalJobStatusTransitionError extends Error {
  override readonly name = 'IllegalJobStatusTransitionError';
  constructor(
    readonly from: JobStatus,
    readonly to: JobStatus,
  ) {
    super(`a job cannot go from ${from} to ${to} (from ${from} only to ${JOB_STATUS_TRANSITIONS[from].join(', ') || 'nothing: it is terminal'})`);
  }
}

/** `to`, if a job in `from` may enter it; throws IllegalJobStatusTransitionError otherwise. */
export function nextJobStatus<T extends JobStatus>(from: JobStatus, to: T): T {
  if (!JOB_STATUS_TRANSITIONS[from].includes(to)) throw new IllegalJobStatusTransitionError(from, to);
  return to;
}

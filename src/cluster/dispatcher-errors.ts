/**
 * Why the dispatcher refuses a request. The REST layer maps each class to an HTTP status
 * (rest/rest-errors.ts); the messages are what clients show, so they name the job, trigger or
 * field at fault.
 */
import type { JobStatus } from '../api/job-status.ts';

/** No job with this id was ever submitted here. */
export class UnknownJobError extends Error {
  override readonly name = 'UnknownJobError';
  constructor(readonly jobId: string) {
    super(`unknown job ${jobId}`);
  }
}

/** No operation of this kind with this trigger id exists for the job. */
export class UnknownTriggerError extends Error {
  override readonly name = 'UnknownTriggerError';
  constructor(
    readonly jobId: string,
    readonly triggerId: string,
    kind: string,
  ) {
    super(`unknown ${kind} trigger ${triggerId} for job ${jobId}`);
  }
}

/** The job's status does not allow the request (a savepoint of a finished job, cancelling a failed one). */
export class JobStateError extends Error {
  override readonly name = 'JobStateError';
  constructor(
    message: string,
    readonly jobId: string,
    readonly status: JobStatus,
  ) {
    super(message);
  }
}

/** The submission was refused: bad fields, a module that throws or never executes, an invalid graph, a bad restore path. */
export class SubmissionError extends Error {
  override readonly name = 'SubmissionError';
}

/** The job needs more slots than are free. */
export class InsufficientSlotsError extends SubmissionError {
  constructor(
    readonly needed: number,
    readonly free: number,
    readonly total: number,
  ) {
    super(`job needs ${needed} slots but the cluster has ${free} free (${total} in all)`);
  }
}

/** The dispatcher has been shut down and takes no more jobs. */
export class DispatcherShutDownError extends Error {
  override readonly name = 'DispatcherShutDownError';
  constructor() {
    super('the dispatcher is shut down');
  }
}

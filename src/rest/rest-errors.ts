/**
 * Errors of the REST API and how they map to HTTP. Every error answer is Flink's shape,
 * `{"errors": [message]}`: 404 for an unknown job, trigger, checkpoint, vertex or route; 400 for
 * a bad path, query parameter or body (the message names the field, and for JSON the position);
 * 405 for a route that exists with another method; 409 when the job's status forbids the request
 * or the cluster lacks free slots; 413 for a body over the limit; 503 once the dispatcher is
 * shut down; 500 otherwise (the stack goes to the server's log, not to the client).
 */
import {
  DispatcherShutDownError,
  InsufficientSlotsError,
  JobStateError,
  SubmissionError,
  UnknownJobError,
  UnknownTriggerError,
} from '../cluster/dispatcher-errors.ts';

/** An answer other than 200/202 decided by the REST layer itself, with extra headers if any. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: 400 | 404 | 405 | 409 | 413 | 503,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The HTTP status of an error thrown by a route or by the dispatcher it called. */
export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof UnknownJobError || e instanceof UnknownTriggerError) return 404;
  if (e instanceof JobStateError || e instanceof InsufficientSlotsError) return 409;
  if (e instanceof SubmissionError) return 400;
  if (e instanceof DispatcherShutDownError) return 503;
  return 500;
}

/** An error with its causes, each with its stack, as Java prints a throwable. */
export function renderError(e: Error): string {
  const parts: string[] = [];
  let c: unknown = e;
  for (let depth = 0; c instanceof Error && depth < 32; c = c.cause, depth++) {
    const frames = (c.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    parts.push([`${depth === 0 ? '' : 'Caused by: '}${c.name}: ${c.message}`, ...frames].join('\n'));
  }
  return parts.join('\n');
}

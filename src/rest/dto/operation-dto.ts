/** An asynchronous operation's status (savepoint, stop, checkpoint) as Flink's AsynchronousOperationResult. */
import type { OperationStatus } from '../../cluster/dispatcher.ts';
import { renderError } from '../rest-errors.ts';
import type { AsynchronousOperationResult, FailureCause } from '../rest-types.ts';

export function failureCause(e: Error): FailureCause {
  return { class: e.name, 'stack-trace': renderError(e) };
}

/** IN_PROGRESS, or COMPLETED with `wrap(result)` or the failure cause. */
export function operationResult<T, R>(s: OperationStatus<T>, wrap: (result: T) => R): AsynchronousOperationResult<R> {
  if (s.status === 'IN_PROGRESS') return { status: { id: 'IN_PROGRESS' } };
  return { status: { id: 'COMPLETED' }, operation: 'failure' in s ? { 'failure-cause': failureCause(s.failure) } : wrap(s.result) };
}

/**
 * The asynchronous operations of one job — savepoints, stop-with-savepoint and manual
 * checkpoints — that clients poll by trigger id (Flink's trigger/status pairs). An operation is
 * IN_PROGRESS until its promise settles, then COMPLETED with its result or its failure.
 */
import { randomBytes } from 'node:crypto';
import { UnknownTriggerError } from './dispatcher-errors.ts';

/** The state of a savepoint, stop or checkpoint operation, by trigger id. */
export type OperationStatus<T> =
  | { readonly status: 'IN_PROGRESS' }
  | { readonly status: 'COMPLETED'; readonly result: T }
  | { readonly status: 'COMPLETED'; readonly failure: Error };

/** Savepoints (and stops, whose outcome is a savepoint) report a location, checkpoints an id. */
export interface OperationResults {
  readonly savepoint: string;
  readonly checkpoint: number;
}
export type OperationKind = keyof OperationResults;

interface Operation {
  readonly kind: OperationKind;
  state: 'IN_PROGRESS' | 'COMPLETED';
  result?: string | number;
  failure?: Error;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export class JobOperations {
  readonly #operations = new Map<string, Operation>();

  constructor(
    readonly jobId: string,
    /** Told about every operation that fails. */
    readonly onFailure: (kind: OperationKind, triggerId: string, error: Error) => void = () => {},
  ) {}

  /** Starts tracking `run` and returns its trigger id (32 hex). */
  track<K extends OperationKind>(kind: K, run: () => Promise<OperationResults[K]>): string {
    const triggerId = randomBytes(16).toString('hex');
    const op: Operation = { kind, state: 'IN_PROGRESS' };
    this.#operations.set(triggerId, op);
    run().then(
      (result) => {
        op.result = result;
        op.state = 'COMPLETED';
      },
      (e: unknown) => {
        op.failure = asError(e);
        op.state = 'COMPLETED';
        this.onFailure(kind, triggerId, op.failure);
      },
    );
    return triggerId;
  }

  /** @throws UnknownTriggerError when no operation of `kind` has this trigger id. */
  status<K extends OperationKind>(triggerId: string, kind: K): OperationStatus<OperationResults[K]> {
    const op = this.#operations.get(triggerId);
    if (!op || op.kind !== kind) throw new UnknownTriggerError(this.jobId, triggerId, kind);
    if (op.state === 'IN_PROGRESS') return { status: 'IN_PROGRESS' };
    return op.failure ? { status: 'COMPLETED', failure: op.failure } : { status: 'COMPLETED', result: op.result as OperationResults[K] };
  }
}

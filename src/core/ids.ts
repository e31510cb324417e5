/**
 * Branded identifiers: a job id, a checkpoint id and an operator id are all plain strings or
 * numbers at run time, but the compiler keeps them apart, so one cannot be passed where another
 * is expected. Values enter through the constructors below, which check their form.
 */

declare const brand: unique symbol;

/** `T` marked as the kind `B`; assignable to `T`, but a plain `T` is not assignable to it. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A job's id: 32 lowercase hex digits, as Flink's JobID prints. */
export type JobId = Brand<string, 'JobId'>;
/** A checkpoint's id: a positive integer, strictly increasing per job. */
export type CheckpointId = Brand<number, 'CheckpointId'>;
/** An operator's id: 32 lowercase hex digits, the hash of its uid or of its place in the graph. */
export type OperatorId = Brand<string, 'OperatorId'>;

const HEX32 = /^[0-9a-f]{32}$/;

export function asJobId(value: string): JobId {
  if (!HEX32.test(value)) throw new TypeError(`a job id has 32 lowercase hex digits, got ${JSON.stringify(value)}`);
  return value as JobId;
}

export function asCheckpointId(value: number): CheckpointId {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`a checkpoint id is a positive integer, got ${value}`);
  return value as CheckpointId;
}

export function asOperatorId(value: string): OperatorId {
  if (!HEX32.test(value)) throw new TypeError(`an operator id has 32 lowercase hex digits, got ${JSON.stringify(value)}`);
  return value as OperatorId;
}

/**
 * Control events that travel in-band with records through channels, in order with them.
 * A closed union: every consumer switches over `kind`, so a new event kind fails to compile
 * until it is handled everywhere.
 */
import type { CheckpointId } from '../core/ids.ts';
import type { CheckpointOptions } from '../checkpoint/checkpoint-options.ts';

export type ChannelEvent =
  | { readonly kind: 'watermark'; readonly timestamp: number }
  | { readonly kind: 'watermark-status'; readonly idle: boolean }
  | { readonly kind: 'end-of-partition' }
  /**
   * The producer reached the end of its input and finished its operators; the channel stays open
   * for the barriers of the final checkpoint, and end-of-partition follows once that completed.
   */
  | { readonly kind: 'end-of-data' }
  | CheckpointBarrier
  | { readonly kind: 'cancel-checkpoint-marker'; readonly checkpointId: CheckpointId };

/**
 * Barrier `checkpointId`, injected by the sources at `timestamp` (the trigger time). It carries
 * what the checkpoint is (`options`: its type, alignment, a savepoint's directory, a stop), so
 * every task learns it from the barrier itself, in order with the records around it. Plain
 * data: it crosses threads by structured clone like every other event.
 */
export interface CheckpointBarrier {
  readonly kind: 'checkpoint-barrier';
  readonly checkpointId: CheckpointId;
  readonly timestamp: number;
  readonly options: CheckpointOptions;
}

export type ChannelEventKind = ChannelEvent['kind'];

/**
 * Records staged or received as one unit. `timestamps` is null when no record had one.
 *
 * A batch sent through a key-partitioned edge (keyBy) carries what its partitioner computed for
 * each record, so that the keyed consumer does not compute it again: the key group of the
 * record's key (`keyGroups`, under the consumer's maxParallelism) and, within one thread, the
 * key itself (`keys`; not sent between threads, where encoding a key would cost more than
 * selecting it again). Both are the results of the edge's key selector, which the consumer
 * applies to the same record; absent or null where not known (other partitioners, restored
 * channel state).
 */
export interface RecordBatch {
  readonly values: unknown[];
  readonly timestamps: Float64Array | null;
  readonly count: number;
  readonly keyGroups?: Uint16Array | null;
  readonly keys?: unknown[] | null;
}

export const END_OF_PARTITION: ChannelEvent = Object.freeze({ kind: 'end-of-partition' });
export const END_OF_DATA: ChannelEvent = Object.freeze({ kind: 'end-of-data' });

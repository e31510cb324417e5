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

/** Records staged or received as one unit. `timestamps` is null when no record had one. */
export interface RecordBatch {
  readonly values: unknown[];
  readonly timestamps: Float64Array | null;
  readonly count: number;
}

export const END_OF_PARTITION: ChannelEvent = Object.freeze({ kind: 'end-of-partition' });
export const END_OF_DATA: ChannelEvent = Object.freeze({ kind: 'end-of-data' });

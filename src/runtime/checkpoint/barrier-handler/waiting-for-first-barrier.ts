/**
 * No checkpoint is being handled (Flink's WaitingForFirstBarrier). The first barrier of a newer
 * checkpoint chooses the state that handles it from its options: aligned barriers are collected
 * with blocking, unaligned ones (and any barrier that overtook its channel's data) start an
 * unaligned snapshot at once, at-least-once barriers are counted. Savepoints arrive marked
 * aligned whatever the job's mode. Barriers of checkpoints that already ended here are ignored.
 */
import type { CheckpointId } from '../../../core/ids.ts';
import { assertNever } from '../../../core/errors.ts';
import type { CheckpointBarrier } from '../../events.ts';
import type { BarrierHandlerContext, BarrierHandlerState } from './barrier-handler-state.ts';
import { CollectingBarriers } from './collecting-barriers.ts';
import { CountingBarriers } from './counting-barriers.ts';
import { UnalignedBarriers } from './unaligned-barriers.ts';

export class WaitingForFirstBarrier implements BarrierHandlerState {
  static readonly INSTANCE = new WaitingForFirstBarrier();

  get checkpointId(): undefined {
    return undefined;
  }

  barrierReceived(ctx: BarrierHandlerContext, channel: number, barrier: CheckpointBarrier, priority: boolean): BarrierHandlerState {
    if (barrier.checkpointId <= ctx.finishedUpTo) return this;
    const alignment = barrier.options.alignment;
    switch (alignment) {
      case 'aligned':
        if (priority) return UnalignedBarriers.start(ctx, barrier).barrierReceived(ctx, channel, barrier, priority);
        return new CollectingBarriers(ctx, barrier).barrierReceived(ctx, channel, barrier, priority);
      case 'at-least-once':
        return new CountingBarriers(ctx, barrier).barrierReceived(ctx, channel, barrier, priority);
      case 'unaligned':
        return UnalignedBarriers.start(ctx, barrier, undefined, priority ? undefined : channel).barrierReceived(ctx, channel, barrier, priority);
      default:
        return assertNever(alignment, 'barrier alignment');
    }
  }

  alignmentTimedOut(): BarrierHandlerState {
    return this;
  }

  endOfPartition(): BarrierHandlerState {
    return this;
  }

  checkpointAborted(ctx: BarrierHandlerContext, checkpointId: CheckpointId): BarrierHandlerState {
    ctx.ignoreUpTo(checkpointId);
    return this;
  }
}

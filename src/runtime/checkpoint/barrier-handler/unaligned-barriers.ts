/**
 * Unaligned barrier handling (exactly-once; Flink's CollectingBarriersUnaligned): the subtask
 * snapshots as soon as the checkpoint goes unaligned here (at its first barrier, or when an
 * aligned checkpoint timed out), no channel is ever blocked, and the data each open channel
 * delivers before its barrier becomes that channel's state for the checkpoint. This state only
 * counts barriers; what to store is the task's (it hears of each barrier with its `ahead`).
 */
import type { CheckpointBarrier } from '../../events.ts';
import type { BarrierHandlerContext } from './barrier-handler-state.ts';
import { PendingBarriers } from './pending-barriers.ts';

export class UnalignedBarriers extends PendingBarriers {
  /**
   * Starts handling `barrier`'s checkpoint unaligned: the task is told to snapshot now. `from`:
   * the aligned state of the same checkpoint that timed out (its channels that delivered the
   * barrier need no channel state). `inBand`: the channel whose in-band barrier is being taken
   * right now, when that is what starts it (everything before it on that channel was processed,
   * so it needs no channel state either; what is queued behind it came after the barrier).
   */
  static start(ctx: BarrierHandlerContext, barrier: CheckpointBarrier, from?: PendingBarriers, inBand?: number): UnalignedBarriers {
    const state = new UnalignedBarriers(ctx, barrier, from);
    const delivered = [...state.seen];
    if (inBand !== undefined) delivered[inBand] = true;
    ctx.startedUnaligned({ ...state.alignment(ctx), delivered });
    return state;
  }

  protected delivered(_ctx: BarrierHandlerContext, _channel: number): void {
    // Nothing blocks: the snapshot was taken when the checkpoint went unaligned.
  }

  /** Every barrier is in: the checkpoint is over for the handler (the channel state may still be filling). */
  protected override allArrived(ctx: BarrierHandlerContext): void {
    ctx.finish(this.checkpointId);
  }
}

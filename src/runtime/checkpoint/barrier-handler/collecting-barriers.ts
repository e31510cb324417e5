/**
 * Aligned barrier handling (exactly-once; Flink's CollectingBarriers for aligned checkpoints):
 * a channel that delivered the barrier is blocked until the barrier has arrived on every open
 * channel, so nothing that follows the barrier is processed before the snapshot. Completing,
 * abandoning or aborting the checkpoint unblocks every channel.
 */
import type { BarrierHandlerContext } from './barrier-handler-state.ts';
import { PendingBarriers } from './pending-barriers.ts';

export class CollectingBarriers extends PendingBarriers {
  protected delivered(ctx: BarrierHandlerContext, channel: number): void {
    ctx.block(channel);
  }
}

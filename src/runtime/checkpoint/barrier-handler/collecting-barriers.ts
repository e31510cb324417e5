/**
 * Aligned barrier handling (exactly-once; Flink's CollectingBarriers for aligned checkpoints):
 * a channel that delivered the barrier is blocked until the barrier has arrived on every open
 * channel, so nothing that follows the barrier is processed before the snapshot. Completing,
 * abandoning or aborting the checkpoint unblocks every channel.
 *
 * With an aligned-checkpoint timeout (`options.alignedTimeoutMs`), the alignment may end early:
 * when the timeout has passed since the checkpoint was triggered (the barrier's timestamp), or a
 * barrier arrives that overtook its channel's data (an upstream subtask already went unaligned),
 * the checkpoint continues unaligned here (Flink's alternating handling).
 */
import type { CheckpointId } from '../../../core/ids.ts';
import type { CheckpointBarrier } from '../../events.ts';
import type { BarrierHandlerContext, BarrierHandlerState } from './barrier-handler-state.ts';
import { PendingBarriers } from './pending-barriers.ts';
import { UnalignedBarriers } from './unaligned-barriers.ts';

export class CollectingBarriers extends PendingBarriers {
  /** Clock time at which the alignment gives up and goes unaligned; undefined without a timeout. */
  readonly #deadline: number | undefined;

  constructor(ctx: BarrierHandlerContext, first: CheckpointBarrier) {
    super(ctx, first);
    const timeout = first.options.alignedTimeoutMs;
    this.#deadline = timeout === undefined ? undefined : first.timestamp + timeout;
    if (this.#deadline !== undefined && this.#deadline > ctx.now()) ctx.startTimer(first.checkpointId, this.#deadline);
  }

  protected delivered(ctx: BarrierHandlerContext, channel: number): void {
    ctx.block(channel);
  }

  override barrierReceived(ctx: BarrierHandlerContext, channel: number, barrier: CheckpointBarrier, priority: boolean): BarrierHandlerState {
    if (barrier.checkpointId === this.checkpointId && (priority || this.#timedOut(ctx))) {
      return this.#toUnaligned(ctx, priority ? undefined : channel).barrierReceived(ctx, channel, barrier, priority);
    }
    return super.barrierReceived(ctx, channel, barrier, priority);
  }

  override alignmentTimedOut(ctx: BarrierHandlerContext, checkpointId: CheckpointId): BarrierHandlerState {
    return checkpointId === this.checkpointId ? this.#toUnaligned(ctx) : this;
  }

  #timedOut(ctx: BarrierHandlerContext): boolean {
    return this.#deadline !== undefined && ctx.now() >= this.#deadline;
  }

  /** Blocked channels are released: what follows their barriers may be processed after the snapshot taken now. */
  #toUnaligned(ctx: BarrierHandlerContext, inBand?: number): BarrierHandlerState {
    ctx.unblockAll();
    return UnalignedBarriers.start(ctx, this.barrier, this, inBand);
  }
}

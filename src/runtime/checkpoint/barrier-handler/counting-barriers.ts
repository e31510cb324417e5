/**
 * At-least-once barrier handling (Flink's CheckpointBarrierTracker): barriers are only counted
 * and no channel is ever blocked, so records after a barrier may be processed before the
 * snapshot and be replayed after a restore. The checkpoint completes when its barrier arrived on
 * every open channel.
 */
import type { BarrierHandlerContext } from './barrier-handler-state.ts';
import { PendingBarriers } from './pending-barriers.ts';

export class CountingBarriers extends PendingBarriers {
  protected delivered(_ctx: BarrierHandlerContext, _channel: number): void {
    // Counted by PendingBarriers; the channel stays readable.
  }
}

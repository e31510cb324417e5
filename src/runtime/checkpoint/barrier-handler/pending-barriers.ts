/**
 * The barriers of one checkpoint seen so far, shared by the states that collect them (aligned
 * and at-least-once differ only in what a delivered barrier does to its channel). An ended
 * channel counts as having delivered every later barrier, so the checkpoint completes when the
 * barrier arrived on every open channel.
 */
import type { CheckpointId } from '../../../core/ids.ts';
import type { CheckpointBarrier } from '../../events.ts';
import type { BarrierHandlerContext, BarrierHandlerState } from './barrier-handler-state.ts';

export abstract class PendingBarriers implements BarrierHandlerState {
  readonly #barrier: CheckpointBarrier;
  readonly #firstBarrierAt: number;
  readonly #seen: boolean[];
  #count = 0;

  constructor(ctx: BarrierHandlerContext, first: CheckpointBarrier) {
    this.#barrier = first;
    this.#firstBarrierAt = ctx.now();
    this.#seen = new Array<boolean>(ctx.numChannels).fill(false);
  }

  get checkpointId(): CheckpointId {
    return this.#barrier.checkpointId;
  }

  /** What this state does to a channel that just delivered this checkpoint's barrier. */
  protected abstract delivered(ctx: BarrierHandlerContext, channel: number): void;

  barrierReceived(ctx: BarrierHandlerContext, channel: number, barrier: CheckpointBarrier): BarrierHandlerState {
    const id = this.checkpointId;
    if (barrier.checkpointId < id) return this;
    if (barrier.checkpointId > id) {
      // The newer checkpoint subsumes this one here; its barrier starts over from idle.
      ctx.finish(id);
      ctx.abandoned(id);
      return ctx.idle().barrierReceived(ctx, channel, barrier);
    }
    if (!this.#seen[channel]) {
      this.#seen[channel] = true;
      this.#count++;
      this.delivered(ctx, channel);
    }
    return this.#completeIfDone(ctx);
  }

  endOfPartition(ctx: BarrierHandlerContext, channel: number): BarrierHandlerState {
    if (this.#seen[channel]) {
      // It no longer counts: an ended channel is aligned by definition.
      this.#seen[channel] = false;
      this.#count--;
    }
    return this.#completeIfDone(ctx);
  }

  checkpointAborted(ctx: BarrierHandlerContext, checkpointId: CheckpointId): BarrierHandlerState {
    if (checkpointId < this.checkpointId) {
      // An older checkpoint: this one goes on, channels stay as they are.
      ctx.ignoreUpTo(checkpointId);
      return this;
    }
    ctx.finish(checkpointId);
    return ctx.idle();
  }

  #completeIfDone(ctx: BarrierHandlerContext): BarrierHandlerState {
    if (this.#count < ctx.openChannels) return this;
    const b = this.#barrier;
    ctx.finish(b.checkpointId);
    ctx.completed({
      checkpointId: b.checkpointId,
      timestamp: b.timestamp,
      options: b.options,
      alignmentMs: ctx.now() - this.#firstBarrierAt,
      firstBarrierAt: this.#firstBarrierAt,
    });
    return ctx.idle();
  }
}

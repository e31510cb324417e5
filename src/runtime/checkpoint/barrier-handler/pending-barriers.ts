/**
 * The barriers of one checkpoint seen so far, shared by the states that collect them (aligned,
 * unaligned and at-least-once differ in what a delivered barrier does to its channel and what
 * the last one means). An ended channel counts as having delivered every later barrier, so the
 * barriers are all in when the barrier arrived on every open channel.
 */
import type { CheckpointId } from '../../../core/ids.ts';
import type { CheckpointBarrier } from '../../events.ts';
import type { BarrierHandlerContext, BarrierHandlerState, CompletedAlignment } from './barrier-handler-state.ts';

export abstract class PendingBarriers implements BarrierHandlerState {
  readonly #barrier: CheckpointBarrier;
  readonly #firstBarrierAt: number;
  readonly #seen: boolean[];
  #count = 0;

  /** `from`: the barriers an earlier state of the same checkpoint collected (a switch to unaligned). */
  constructor(ctx: BarrierHandlerContext, first: CheckpointBarrier, from?: PendingBarriers) {
    this.#barrier = first;
    this.#firstBarrierAt = from === undefined ? ctx.now() : from.#firstBarrierAt;
    this.#seen = from === undefined ? new Array<boolean>(ctx.numChannels).fill(false) : [...from.#seen];
    this.#count = from === undefined ? 0 : from.#count;
  }

  get checkpointId(): CheckpointId {
    return this.#barrier.checkpointId;
  }

  protected get barrier(): CheckpointBarrier {
    return this.#barrier;
  }

  /** Which channels delivered this checkpoint's barrier so far. */
  protected get seen(): readonly boolean[] {
    return this.#seen;
  }

  /** The alignment figures as of now. */
  protected alignment(ctx: BarrierHandlerContext): CompletedAlignment {
    const b = this.#barrier;
    return {
      checkpointId: b.checkpointId,
      timestamp: b.timestamp,
      options: b.options,
      alignmentMs: ctx.now() - this.#firstBarrierAt,
      firstBarrierAt: this.#firstBarrierAt,
    };
  }

  /** What this state does to a channel that just delivered this checkpoint's barrier. */
  protected abstract delivered(ctx: BarrierHandlerContext, channel: number): void;

  barrierReceived(ctx: BarrierHandlerContext, channel: number, barrier: CheckpointBarrier, priority: boolean): BarrierHandlerState {
    const id = this.checkpointId;
    if (barrier.checkpointId < id) return this;
    if (barrier.checkpointId > id) {
      // The newer checkpoint subsumes this one here; its barrier starts over from idle.
      ctx.finish(id);
      ctx.abandoned(id);
      return ctx.idle().barrierReceived(ctx, channel, barrier, priority);
    }
    if (!this.#seen[channel]) {
      this.#seen[channel] = true;
      this.#count++;
      this.delivered(ctx, channel);
    }
    return this.completeIfDone(ctx);
  }

  endOfPartition(ctx: BarrierHandlerContext, channel: number): BarrierHandlerState {
    if (this.#seen[channel]) {
      // It no longer counts: an ended channel is aligned by definition.
      this.#seen[channel] = false;
      this.#count--;
    }
    return this.completeIfDone(ctx);
  }

  alignmentTimedOut(_ctx: BarrierHandlerContext, _checkpointId: CheckpointId): BarrierHandlerState {
    return this;
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

  /** Every open channel delivered the barrier (default: the snapshot is taken now). */
  protected allArrived(ctx: BarrierHandlerContext): void {
    const alignment = this.alignment(ctx);
    ctx.finish(alignment.checkpointId);
    ctx.completed(alignment);
  }

  protected completeIfDone(ctx: BarrierHandlerContext): BarrierHandlerState {
    if (this.#count < ctx.openChannels) return this;
    this.allArrived(ctx);
    return ctx.idle();
  }
}

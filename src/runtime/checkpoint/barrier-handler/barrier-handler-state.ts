/**
 * The states of a task's barrier handling (Flink's BarrierHandlerState), and what they may ask
 * of the handler that holds them.
 *
 * A state answers each input event with the next state; it never mutates the handler's current
 * state itself. States keep only what belongs to the checkpoint they handle: which channels are
 * ended or blocked is the handler's, shared by every state. Which state handles a checkpoint is
 * chosen from the options on its first barrier (`WaitingForFirstBarrier`), so another way of
 * handling barriers (unaligned) is another state, not a flag in an existing one.
 */
import type { CheckpointId } from '../../../core/ids.ts';
import type { CheckpointBarrier } from '../../events.ts';
import type { CheckpointOptions } from '../../../checkpoint/checkpoint-options.ts';

/** A checkpoint whose barriers arrived on every open channel: the task snapshots it now. */
export interface CompletedAlignment {
  readonly checkpointId: CheckpointId;
  readonly timestamp: number;
  readonly options: CheckpointOptions;
  /** First barrier to last, ms. */
  readonly alignmentMs: number;
  /** When the first barrier of this checkpoint arrived (clock time). */
  readonly firstBarrierAt: number;
}

/**
 * A checkpoint this subtask takes unaligned, from now: the task snapshots at once and stores as
 * channel state what arrives on each open channel before that channel's barrier.
 */
export interface UnalignedStart extends CompletedAlignment {
  /** Channels whose barrier already arrived in-band before the switch (nothing to store for them). */
  readonly delivered: readonly boolean[];
}

/** What a state may do to the handler's channels and tell the task. */
export interface BarrierHandlerContext {
  readonly numChannels: number;
  /** Channels that have not ended. */
  readonly openChannels: number;
  /** Highest checkpoint id completed, abandoned or aborted here: its barriers and older ones are ignored. */
  readonly finishedUpTo: number;
  now(): number;
  /** Records after this channel's barrier must wait: the channel is not read until unblocked. */
  block(channel: number): void;
  /** Every channel is readable again (an aligned checkpoint turned unaligned); nothing is ignored yet. */
  unblockAll(): void;
  /**
   * The checkpoint is over here (completed, abandoned or aborted): every channel is readable
   * again and barriers of this checkpoint and older ones are ignored from now on.
   */
  finish(checkpointId: CheckpointId): void;
  /** Barriers of `checkpointId` and older ones are ignored from now on; channels stay as they are. */
  ignoreUpTo(checkpointId: CheckpointId): void;
  /** A newer barrier arrived before this checkpoint's alignment ended: the task declines it. */
  abandoned(checkpointId: CheckpointId): void;
  /** Every open channel delivered the barrier: the task snapshots. */
  completed(alignment: CompletedAlignment): void;
  /** The checkpoint goes unaligned here: the task snapshots now and starts storing channel state. */
  startedUnaligned(start: UnalignedStart): void;
  /** Calls `alignmentTimedOut(checkpointId)` on the handler at clock time `at` (the aligned-checkpoint timeout). */
  startTimer(checkpointId: CheckpointId, at: number): void;
  /** The state that waits for the next checkpoint's first barrier. */
  idle(): BarrierHandlerState;
}

export interface BarrierHandlerState {
  /** The checkpoint this state handles; undefined while waiting for a first barrier. */
  readonly checkpointId: CheckpointId | undefined;
  /**
   * `barrier` arrived on `channel` (a channel that has not ended); `priority` when it overtook
   * the channel's data (its checkpoint is unaligned upstream, so it is unaligned here too).
   */
  barrierReceived(ctx: BarrierHandlerContext, channel: number, barrier: CheckpointBarrier, priority: boolean): BarrierHandlerState;
  /** The aligned-checkpoint timeout of `checkpointId` passed (a timer the state started). */
  alignmentTimedOut(ctx: BarrierHandlerContext, checkpointId: CheckpointId): BarrierHandlerState;
  /** `channel` ended (end of partition); the handler already counts it as ended. */
  endOfPartition(ctx: BarrierHandlerContext, channel: number): BarrierHandlerState;
  /** Checkpoint `checkpointId` was aborted (a cancel marker, or the coordinator said so). */
  checkpointAborted(ctx: BarrierHandlerContext, checkpointId: CheckpointId): BarrierHandlerState;
}

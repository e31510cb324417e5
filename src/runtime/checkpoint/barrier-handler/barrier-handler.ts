/**
 * Decides, for a task with input channels, when a checkpoint's barrier has arrived on every
 * input (Flink's CheckpointBarrierHandler). It holds the channels' shared bookkeeping (ended,
 * blocked) and the current state; each input event goes to the state, which answers with the
 * next one. What the task must do after the event comes back as an `AlignmentStep`.
 *
 * Contract, whatever the state:
 * - a channel that ended counts as having delivered every later barrier;
 * - a newer barrier while handling an older checkpoint abandons the older one (it is subsumed);
 * - barriers of a checkpoint that completed, was abandoned or was aborted here are ignored, and
 *   so are barriers of older checkpoints;
 * - `isBlocked` is read per polled item, never per record.
 */
import type { CheckpointId } from '../../../core/ids.ts';
import type { CheckpointBarrier } from '../../events.ts';
import type { BarrierHandlerContext, BarrierHandlerState, CompletedAlignment, UnalignedStart } from './barrier-handler-state.ts';
import { WaitingForFirstBarrier } from './waiting-for-first-barrier.ts';

export type { CompletedAlignment, UnalignedStart } from './barrier-handler-state.ts';

/** What the task must do after a barrier or an end of partition. */
export type AlignmentStep =
  | { readonly kind: 'none' }
  /** Every open channel delivered the barrier: snapshot now (every channel is readable again). */
  | (CompletedAlignment & {
      readonly kind: 'complete';
      /** Set when completing also abandoned an older checkpoint. */
      readonly abandoned?: CheckpointId;
    })
  /**
   * The checkpoint goes unaligned here: snapshot now and store, per open channel that has not
   * `delivered` its barrier, what arrives before it.
   */
  | (UnalignedStart & {
      readonly kind: 'unaligned';
      /** Set when starting also abandoned an older checkpoint. */
      readonly abandoned?: CheckpointId;
    })
  /** A newer barrier abandoned `checkpointId` (the task declines it); handling of the newer one goes on. */
  | { readonly kind: 'abandoned'; readonly checkpointId: CheckpointId };

const NONE: AlignmentStep = Object.freeze({ kind: 'none' });

export class BarrierHandler {
  readonly #ended: boolean[];
  readonly #blocked: boolean[];
  #open: number;
  #finishedUpTo = 0;
  #state: BarrierHandlerState = WaitingForFirstBarrier.INSTANCE;
  // What the state reported during the current event.
  #completed: CompletedAlignment | undefined;
  #unaligned: UnalignedStart | undefined;
  #abandoned: CheckpointId | undefined;
  readonly #ctx: BarrierHandlerContext;

  /** `startTimer`: call `onAlignmentTimeout(checkpointId)` at clock time `at` (through the task's mailbox). */
  constructor(numChannels: number, now: () => number, startTimer: (checkpointId: CheckpointId, at: number) => void = () => {}) {
    this.#ended = new Array<boolean>(numChannels).fill(false);
    this.#blocked = new Array<boolean>(numChannels).fill(false);
    this.#open = numChannels;
    const self = this;
    this.#ctx = {
      numChannels,
      get openChannels() {
        return self.#open;
      },
      get finishedUpTo() {
        return self.#finishedUpTo;
      },
      now,
      block: (channel) => {
        this.#blocked[channel] = true;
      },
      unblockAll: () => {
        this.#blocked.fill(false);
      },
      startedUnaligned: (start) => {
        this.#unaligned = start;
      },
      startTimer,
      finish: (checkpointId) => {
        this.#blocked.fill(false);
        if (checkpointId > this.#finishedUpTo) this.#finishedUpTo = checkpointId;
      },
      ignoreUpTo: (checkpointId) => {
        if (checkpointId > this.#finishedUpTo) this.#finishedUpTo = checkpointId;
      },
      abandoned: (checkpointId) => {
        this.#abandoned = checkpointId;
      },
      completed: (alignment) => {
        this.#completed = alignment;
      },
      idle: () => WaitingForFirstBarrier.INSTANCE,
    };
  }

  /** Highest checkpoint id completed, abandoned or aborted here. */
  get finishedUpTo(): number {
    return this.#finishedUpTo;
  }

  /** Whether the channel ended (end of partition). */
  isEnded(channel: number): boolean {
    return this.#ended[channel]!;
  }

  /** Whether the channel must not be read now. */
  isBlocked(channel: number): boolean {
    return this.#blocked[channel]!;
  }

  /** The checkpoint whose barriers are being collected, if any. */
  get aligning(): number | undefined {
    return this.#state.checkpointId;
  }

  /** The current state (for tests and diagnostics). */
  get state(): BarrierHandlerState {
    return this.#state;
  }

  /** `priority`: the barrier overtook its channel's data (it belongs to an unaligned checkpoint). */
  onBarrier(channel: number, barrier: CheckpointBarrier, priority = false): AlignmentStep {
    if (this.#ended[channel]) return NONE;
    this.#state = this.#state.barrierReceived(this.#ctx, channel, barrier, priority);
    return this.#step();
  }

  /** The aligned-checkpoint timeout of `checkpointId` passed: it goes unaligned if still aligning. */
  onAlignmentTimeout(checkpointId: CheckpointId): AlignmentStep {
    this.#state = this.#state.alignmentTimedOut(this.#ctx, checkpointId);
    return this.#step();
  }

  onEndOfPartition(channel: number): AlignmentStep {
    if (this.#ended[channel]) return NONE;
    this.#ended[channel] = true;
    this.#blocked[channel] = false;
    this.#open--;
    this.#state = this.#state.endOfPartition(this.#ctx, channel);
    return this.#step();
  }

  /**
   * Checkpoint `checkpointId` was aborted (a cancel marker, or the coordinator): stop handling
   * it, unblocking its channels, and ignore its barriers. True when a checkpoint up to that id
   * was being handled (the caller reads on).
   */
  abort(checkpointId: CheckpointId): boolean {
    const current = this.#state.checkpointId;
    this.#state = this.#state.checkpointAborted(this.#ctx, checkpointId);
    this.#step();
    return current !== undefined && current <= checkpointId;
  }

  #step(): AlignmentStep {
    const completed = this.#completed;
    const unaligned = this.#unaligned;
    const abandoned = this.#abandoned;
    if (completed === undefined && unaligned === undefined && abandoned === undefined) return NONE;
    this.#completed = undefined;
    this.#unaligned = undefined;
    this.#abandoned = undefined;
    const also = abandoned === undefined ? {} : { abandoned };
    // A checkpoint that went unaligned and got its last barrier in the same event is only unaligned: its snapshot is taken once.
    if (unaligned !== undefined) return { kind: 'unaligned', ...unaligned, ...also };
    if (completed !== undefined) return { kind: 'complete', ...completed, ...also };
    return { kind: 'abandoned', checkpointId: abandoned! };
  }
}

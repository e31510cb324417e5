/**
 * Decides, for a task with input channels, when a checkpoint barrier has arrived on every input
 * (Flink's CheckpointBarrierHandler, aligned and at-least-once flavours).
 *
 * Exactly-once ('aligned'): a channel that delivered barrier n is blocked until n has arrived on
 * every channel, so nothing that follows the barrier is processed before the snapshot.
 * At-least-once ('counting'): barriers are only counted; no channel ever blocks, so records after
 * a barrier may be processed before the snapshot and be replayed after a restore.
 *
 * A channel that ended (end of partition) counts as having delivered every later barrier. A newer
 * barrier while aligning on an older checkpoint abandons the older one (it is subsumed), and
 * barriers of a checkpoint that ended or was abandoned are ignored.
 *
 * Savepoints are always aligned: in counting mode the caller asks for alignment per checkpoint
 * (`onBarrier(..., aligned)`), and may relax it with `setAligned` once it learns that a
 * checkpoint it aligned on for safety is an ordinary one.
 */

export type AlignmentMode = 'aligned' | 'counting';

/** What the task must do after a barrier or an end of partition. */
export type AlignmentStep =
  | { readonly kind: 'none' }
  /** Every open channel delivered `checkpointId`: snapshot now, then unblock every channel. */
  | {
      readonly kind: 'complete';
      readonly checkpointId: number;
      readonly timestamp: number;
      /** First barrier to last, ms. */
      readonly alignmentMs: number;
      /** When the first barrier of this checkpoint arrived (clock time). */
      readonly firstBarrierAt: number;
      /** Set when completing also abandoned an older checkpoint. */
      readonly abandoned?: number;
    }
  /** A newer barrier abandoned `checkpointId` (the task should decline it); alignment on the newer one goes on. */
  | { readonly kind: 'abandoned'; readonly checkpointId: number };

interface Alignment {
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly firstBarrierAt: number;
  readonly seen: boolean[];
  count: number;
  /** Whether channels that delivered the barrier are blocked. */
  aligned: boolean;
}

export class BarrierAligner {
  readonly #mode: AlignmentMode;
  readonly #now: () => number;
  readonly #ended: boolean[];
  readonly #blocked: boolean[];
  #open: number;
  #current: Alignment | undefined;
  /** Highest checkpoint id that completed or was abandoned here; its barriers and older ones are ignored. */
  #finishedUpTo = 0;

  constructor(numChannels: number, mode: AlignmentMode, now: () => number) {
    this.#mode = mode;
    this.#now = now;
    this.#ended = new Array<boolean>(numChannels).fill(false);
    this.#blocked = new Array<boolean>(numChannels).fill(false);
    this.#open = numChannels;
  }

  /** Whether the channel must not be read now. */
  isBlocked(channel: number): boolean {
    return this.#blocked[channel]!;
  }

  /** The checkpoint being aligned, if any. */
  get aligning(): number | undefined {
    return this.#current?.checkpointId;
  }

  /** `aligned` asks for alignment of this checkpoint in counting mode (a savepoint, or one not yet known). */
  onBarrier(channel: number, checkpointId: number, timestamp: number, aligned = false): AlignmentStep {
    if (checkpointId <= this.#finishedUpTo) return NONE;
    let abandoned: number | undefined;
    let cur = this.#current;
    if (cur !== undefined && checkpointId < cur.checkpointId) return NONE;
    if (cur !== undefined && checkpointId > cur.checkpointId) {
      abandoned = cur.checkpointId;
      this.#finish(cur.checkpointId);
      cur = undefined;
    }
    if (cur === undefined) {
      cur = {
        checkpointId,
        timestamp,
        firstBarrierAt: this.#now(),
        seen: new Array<boolean>(this.#ended.length).fill(false),
        count: 0,
        aligned: this.#mode === 'aligned' || aligned,
      };
      this.#current = cur;
    }
    if (!cur.seen[channel]) {
      cur.seen[channel] = true;
      cur.count++;
      if (cur.aligned) this.#blocked[channel] = true;
    }
    const done = this.#completeIfAligned();
    if (done.kind === 'complete' && abandoned !== undefined) return { ...done, abandoned };
    if (done.kind === 'none' && abandoned !== undefined) return { kind: 'abandoned', checkpointId: abandoned };
    return done;
  }

  onEndOfPartition(channel: number): AlignmentStep {
    if (this.#ended[channel]) return NONE;
    this.#ended[channel] = true;
    this.#blocked[channel] = false;
    this.#open--;
    const cur = this.#current;
    if (cur !== undefined && cur.seen[channel]) {
      cur.seen[channel] = false;
      cur.count--;
    }
    return this.#completeIfAligned();
  }

  /**
   * Changes whether the alignment on `checkpointId` (if it is the current one) blocks channels;
   * exactly-once alignments always do. True when channels were unblocked, so the caller reads on.
   */
  setAligned(checkpointId: number, aligned: boolean): boolean {
    const cur = this.#current;
    if (cur === undefined || cur.checkpointId !== checkpointId || this.#mode === 'aligned' || cur.aligned === aligned) return false;
    cur.aligned = aligned;
    for (let i = 0; i < this.#blocked.length; i++) this.#blocked[i] = aligned && cur.seen[i]! && !this.#ended[i]!;
    return !aligned;
  }

  /** The checkpoint was aborted elsewhere: stop aligning on it (unblocking its channels) and ignore its barriers. */
  abort(checkpointId: number): boolean {
    const cur = this.#current;
    const wasAligning = cur !== undefined && cur.checkpointId <= checkpointId;
    if (wasAligning) this.#finish(cur.checkpointId);
    if (checkpointId > this.#finishedUpTo) this.#finishedUpTo = checkpointId;
    return wasAligning;
  }

  #completeIfAligned(): AlignmentStep {
    const cur = this.#current;
    if (cur === undefined || cur.count < this.#open) return NONE;
    this.#finish(cur.checkpointId);
    const now = this.#now();
    return { kind: 'complete', checkpointId: cur.checkpointId, timestamp: cur.timestamp, alignmentMs: now - cur.firstBarrierAt, firstBarrierAt: cur.firstBarrierAt };
  }

  #finish(checkpointId: number): void {
    this.#current = undefined;
    this.#blocked.fill(false);
    if (checkpointId > this.#finishedUpTo) this.#finishedUpTo = checkpointId;
  }
}

const NONE: AlignmentStep = Object.freeze({ kind: 'none' });

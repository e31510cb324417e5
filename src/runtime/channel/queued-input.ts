/**
 * The consumer end of a channel, shared by both transports: the queue of items in arrival order
 * (a remote channel's batches stay bytes until needed), priority barriers taken out of order,
 * and the tap through which an unaligned checkpoint stores the data that was in flight.
 *
 * Items are numbered in arrival order (`seq`). A priority barrier knows `until`, the number of
 * items sent before it: those queued here when it arrived plus those it overtook at the
 * producer, which the producer sends right behind it. Numbers never shift: a queued in-band
 * barrier taken out of order leaves a placeholder that taking skips.
 */
import type { CheckpointBarrier, RecordBatch } from '../events.ts';
import { hasAlignedTimeout, isBarrierOf, Queue, type ChannelItem, type InputChannel } from './channel.ts';

/** Where an in-band barrier was before it was taken out of order. */
const TAKEN_OUT: unique symbol = Symbol('taken out of order');
type Entry = ChannelItem | Uint8Array | typeof TAKEN_OUT;

interface Tap {
  readonly checkpointId: number;
  /** Number of the next item to hand over. */
  next: number;
  /** Items numbered below this were sent before the checkpoint's barrier. */
  limit: number;
  readonly onItem: (item: ChannelItem) => void;
  readonly onDone: () => void;
}

export abstract class QueuedInput implements InputChannel {
  readonly #queue = new Queue<Entry>();
  /** Items that arrived so far; items taken so far (the number of the queue's head). */
  #arrived = 0;
  #taken = 0;
  readonly #priority: { readonly barrier: CheckpointBarrier; readonly until: number }[] = [];
  /** The latest priority barrier taken: a tap may start while the task handles it. */
  #lastPriority: { readonly checkpointId: number; readonly until: number } | undefined;
  #tap: Tap | undefined;
  onItem: (() => void) | undefined = undefined;
  onBarrierQueued: ((barrier: CheckpointBarrier) => void) | undefined = undefined;

  /** Turns a remote batch's bytes into its item; called in arrival order. */
  protected abstract decode(bytes: Uint8Array): ChannelItem;

  /**
   * Takes in items that reached this end without announcing themselves (a shared-memory ring):
   * called whenever the consumer looks for an item and the queue is empty, and before a tap or
   * a prioritization looks through the queue.
   */
  protected refill(): void {}

  /**
   * The consumer waits for `onItem`: it has not polled yet, or it found nothing (a poll that came
   * back empty, or `watch()`). Cleared when an item arrives and `onItem` is called. While a busy
   * consumer finds this channel empty now and then, it is not waiting: it looks again before it
   * goes idle.
   */
  #waiting = true;

  /**
   * Whether this end wants to hear at once of the next item to reach it: the consumer waits for
   * one and nothing is queued, or a tap waits for items in flight.
   */
  protected get wantsWake(): boolean {
    return (this.#waiting && this.#queue.length === 0 && this.#priority.length === 0) || this.#tap !== undefined;
  }
  abstract release(): void;
  abstract close(): void;

  /** An item arrived. */
  protected arrive(raw: ChannelItem | Uint8Array): void {
    const seq = this.#arrived++;
    const tap = this.#tap;
    if (tap !== undefined && seq < tap.limit) {
      // While tapped, bytes are decoded on arrival so the checkpoint gets the item now.
      const item = raw instanceof Uint8Array ? this.decode(raw) : raw;
      this.#queue.push(item);
      this.#tapOne(tap, seq, item);
    } else this.#queue.push(raw);
    if (!(raw instanceof Uint8Array) && hasAlignedTimeout(raw)) this.onBarrierQueued?.(raw);
    if (this.#queue.length === 1) this.#announce();
  }

  #announce(): void {
    this.#waiting = false;
    this.onItem?.();
  }

  /** A priority barrier arrived; `overtaken` items sent before it follow it. */
  protected arrivePriority(barrier: CheckpointBarrier, overtaken: number): void {
    this.#addPriority(barrier, this.#arrived + overtaken);
  }

  get hasItem(): boolean {
    if (this.#queue.length === 0 && this.#priority.length === 0) this.refill();
    return this.#queue.length > 0 || this.#priority.length > 0;
  }

  peekRecords(): RecordBatch | undefined {
    if (this.#priority.length > 0) return undefined;
    if (this.#queue.length === 0) this.refill();
    let at = 0;
    let e = this.#queue.at(0);
    // A barrier taken out of order leaves a placeholder that poll() skips; so does this.
    while (e === TAKEN_OUT) e = this.#queue.at(++at);
    if (e === undefined) return undefined;
    if (e instanceof Uint8Array) {
      // Every item before this one has been taken (and decoded): decoding it now keeps arrival order.
      e = this.decode(e);
      this.#queue.setAt(at, e);
    }
    return e.kind === 'records' ? e.batch : undefined;
  }

  watch(): boolean {
    return this.#queue.length > 0 || this.#priority.length > 0 || this.#wait();
  }

  /**
   * The consumer found nothing here: it waits for `onItem`. Waiting is set before the refill, so
   * that a transport that must ask to hear of the next item asks now. True if an item came after
   * all (its arrival announced it and ended the wait).
   */
  #wait(): boolean {
    this.#waiting = true;
    this.refill();
    return this.#queue.length > 0 || this.#priority.length > 0;
  }

  get hasPriority(): boolean {
    return this.#priority.length > 0;
  }

  poll(): ChannelItem | undefined {
    const p = this.#priority.shift();
    if (p !== undefined) {
      this.#lastPriority = { checkpointId: p.barrier.checkpointId, until: p.until };
      return { kind: 'priority-barrier', barrier: p.barrier, ahead: p.until - this.#taken };
    }
    for (;;) {
      const e = this.#queue.shift();
      if (e === undefined) return this.#wait() ? this.poll() : undefined;
      this.#taken++;
      if (e === TAKEN_OUT) continue;
      return e instanceof Uint8Array ? this.decode(e) : e;
    }
  }

  prioritize(checkpointId: number): boolean {
    this.refill();
    const at = this.#queue.findIndex((e) => isBarrierOf(e, checkpointId));
    if (at < 0) return false;
    const barrier = this.#queue.at(at) as CheckpointBarrier;
    this.#queue.setAt(at, TAKEN_OUT);
    this.#addPriority(barrier, this.#taken + at);
    return true;
  }

  /**
   * Hands `onItem`, in order and before the consumer takes them, every item of this channel that
   * was sent before the barrier of `checkpointId`, from the queue's head on: those queued now and
   * those still to arrive. `onDone` follows once the last of them was handed over (the barrier's
   * position is known and reached, or the channel ended).
   */
  tap(checkpointId: number, onItem: (item: ChannelItem) => void, onDone: () => void): void {
    this.refill();
    let limit = Number.POSITIVE_INFINITY;
    const waiting = this.#priority.find((p) => p.barrier.checkpointId === checkpointId);
    if (waiting !== undefined) limit = waiting.until;
    else if (this.#lastPriority?.checkpointId === checkpointId) limit = this.#lastPriority.until;
    else {
      const at = this.#queue.findIndex((e) => isBarrierOf(e, checkpointId));
      if (at >= 0) limit = this.#taken + at;
    }
    const tap: Tap = { checkpointId, next: this.#taken, limit, onItem, onDone };
    this.#tap = tap;
    for (let i = 0; i < this.#queue.length && this.#tap === tap && tap.next < tap.limit; i++) {
      let e = this.#queue.at(i)!;
      if (e instanceof Uint8Array) {
        e = this.decode(e);
        this.#queue.setAt(i, e);
      }
      this.#tapOne(tap, this.#taken + i, e);
    }
    if (this.#tap === tap && tap.next >= tap.limit) this.#tapDone(tap);
  }

  /** Stops handing over items for `checkpointId` (the checkpoint was given up). */
  untap(checkpointId: number): void {
    if (this.#tap?.checkpointId === checkpointId) this.#tap = undefined;
  }

  #addPriority(barrier: CheckpointBarrier, until: number): void {
    this.#priority.push({ barrier, until });
    const tap = this.#tap;
    if (tap !== undefined && tap.checkpointId === barrier.checkpointId && until < tap.limit) {
      tap.limit = until;
      if (tap.next >= until) this.#tapDone(tap);
    }
    this.#announce();
  }

  #tapOne(tap: Tap, seq: number, e: Exclude<Entry, Uint8Array>): void {
    tap.next = seq + 1;
    if (e === TAKEN_OUT) return;
    if (isBarrierOf(e, tap.checkpointId)) {
      // Its own in-band barrier: what was sent before it is all handed over.
      tap.limit = seq;
      this.#tapDone(tap);
      return;
    }
    tap.onItem(e);
    if (e.kind === 'end-of-partition') tap.limit = seq;
    if (tap.next >= tap.limit) this.#tapDone(tap);
  }

  #tapDone(tap: Tap): void {
    if (this.#tap !== tap) return;
    this.#tap = undefined;
    tap.onDone();
  }
}

/**
 * Channels carry record batches and events from one producer subtask to one consumer subtask,
 * in order, with credit-based flow control: the producer may have at most `credits` batches in
 * flight that the consumer has not yet finished; further batches wait on the producer side,
 * which tells its task to stop producing. Backpressure therefore reaches the sources instead of
 * growing queues. Events do not consume credit but never overtake the batches before them.
 *
 * Two transports share these contracts: a local channel hands batch objects over within one
 * thread; a remote channel serialises batches and posts them over a MessagePort to another
 * thread (the same shape works over a socket between processes).
 */
import type { ChannelEvent, CheckpointBarrier, RecordBatch } from '../events.ts';

/**
 * A barrier of an unaligned checkpoint, taken out of order: it overtook data still in flight on
 * its channel. The next `ahead` items the consumer takes from this channel were sent before it
 * (queued at the consumer when it arrived, or waiting for credit at the producer when it left)
 * and belong to the channel's state for that checkpoint.
 */
export interface PriorityBarrier {
  readonly kind: 'priority-barrier';
  readonly barrier: CheckpointBarrier;
  readonly ahead: number;
}

/** One item a consumer reads from a channel. */
export type ChannelItem = { readonly kind: 'records'; readonly batch: RecordBatch } | ChannelEvent | PriorityBarrier;

export interface OutputChannel {
  /** Sends a batch (or queues it until credit arrives). */
  sendBatch(batch: RecordBatch): void;
  /** Sends an event after everything sent before it. */
  sendEvent(event: ChannelEvent): void;
  /**
   * Sends a barrier of an unaligned checkpoint ahead of everything still waiting for credit,
   * telling the consumer how many items it overtook (they follow it as usual, and the consumer
   * stores them as channel state).
   */
  sendPriorityBarrier(barrier: CheckpointBarrier): void;
  /**
   * The in-band barrier of `checkpointId`, if it still waits for credit here, leaves at once as a
   * priority barrier (its aligned-checkpoint timeout passed).
   */
  prioritizeQueuedBarrier(checkpointId: number): void;
  /** False while batches wait for credit: the producer should stop producing. */
  readonly available: boolean;
  /** Called when the channel turns available again. */
  onAvailable: (() => void) | undefined;
  /**
   * Records the next batch should hold at most: `maxRecords`, or fewer where a batch of that
   * many records would be larger than `maxBytes` once serialised.
   */
  batchCapacity(maxRecords: number, maxBytes: number): number;
  close(): void;
}

export interface InputChannel {
  /**
   * The next item, or undefined when none has arrived. A priority barrier comes before any queued
   * item. Undefined also means the consumer will wait for `onItem`, as after `watch()`.
   */
  poll(): ChannelItem | undefined;
  /**
   * Whether an item is ready without taking it. Looking is not waiting: a consumer that stops
   * because no channel has an item calls `watch()` on each of them before it goes idle.
   */
  readonly hasItem: boolean;
  /**
   * The batch of records that `poll()` would return next, without taking it; undefined when
   * nothing is queued or the next item is something else (a barrier, a watermark). Its bytes are
   * decoded now, which keeps arrival order: it is the head of the queue. For reading ahead only:
   * nothing about the channel changes but when the batch is decoded.
   */
  peekRecords(): RecordBatch | undefined;
  /**
   * The consumer goes idle unless an item is here: returns true if one is (go on), otherwise
   * promises an `onItem` call when the next item reaches this end. A channel that hands items
   * over between threads only tells the producer to wake the consumer after this (or a poll
   * that found nothing), so a busy consumer costs the producer no message per batch.
   */
  watch(): boolean;
  /** Whether a priority barrier waits: the consumer should take it before items of other channels. */
  readonly hasPriority: boolean;
  /**
   * Turns the queued in-band barrier of `checkpointId` into a priority barrier (the consumer's
   * aligned checkpoint timed out): it is polled next, with the items that were queued before it
   * as its `ahead`. False when that barrier is not queued here (not arrived yet, or already taken).
   */
  prioritize(checkpointId: number): boolean;
  /**
   * For an unaligned checkpoint: hands `onItem`, in order and as soon as they are here, the items
   * of this channel sent before the barrier of `checkpointId` that the consumer has not taken yet
   * (queued now or still to arrive); then calls `onDone`.
   */
  tap(checkpointId: number, onItem: (item: ChannelItem) => void, onDone: () => void): void;
  /** Stops a tap of `checkpointId` (the checkpoint was given up). */
  untap(checkpointId: number): void;
  /** The consumer finished processing a batch it polled: grants one credit back. */
  release(): void;
  /**
   * Called when an item arrives while the channel was empty and the consumer waits for one
   * (before its first poll, after a poll that found nothing, or after `watch()` returned false);
   * it may also be called at other times.
   */
  onItem: (() => void) | undefined;
  /**
   * Called when an in-band barrier that carries an aligned-checkpoint timeout is queued, before
   * the consumer reaches it: the timeout must run even while the barrier waits behind data.
   */
  onBarrierQueued: ((barrier: CheckpointBarrier) => void) | undefined;
  close(): void;
}

/**
 * Consumer-side credit return, batched per event-loop turn: a consumer finishing many small
 * batches in one burst sends one credit message rather than one per batch.
 */
export class CreditReturner {
  #pending = 0;
  #scheduled = false;
  constructor(readonly grant: (credits: number) => void) {}

  release(): void {
    this.#pending++;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const n = this.#pending;
      this.#pending = 0;
      this.grant(n);
    });
  }
}

/** FIFO queue without the O(n) shift of arrays. */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  peek(): T | undefined {
    return this.#items[this.#head];
  }
  /** Position (0 = head) of the first item that matches, or -1. O(length); for rare events. */
  findIndex(match: (item: T) => boolean): number {
    for (let i = this.#head; i < this.#items.length; i++) if (match(this.#items[i] as T)) return i - this.#head;
    return -1;
  }
  /** The item at position `index` (0 = head). */
  at(index: number): T | undefined {
    return this.#items[this.#head + index];
  }
  /** Replaces the item at position `index` (0 = head). */
  setAt(index: number, item: T): void {
    this.#items[this.#head + index] = item;
  }
  /** Removes the item at position `index` (0 = head). O(length); for rare events. */
  removeAt(index: number): T | undefined {
    const [item] = this.#items.splice(this.#head + index, 1);
    return item;
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** A batch as a transport holds it until it is sent: the batch itself, or its serialised bytes. */
export type Prepared<P> = { readonly kind: 'records'; readonly payload: P } | ChannelEvent;

/**
 * Producer-side credit accounting shared by both transports. A batch is prepared (e.g.
 * serialised) when it is handed over, so that a record that cannot be sent fails the producing
 * operator at once rather than later, when credit arrives.
 */
export abstract class CreditedOutput<P> implements OutputChannel {
  #credits: number;
  readonly #pending = new Queue<Prepared<P>>();
  onAvailable: (() => void) | undefined = undefined;

  constructor(credits: number) {
    this.#credits = credits;
  }

  protected abstract prepare(batch: RecordBatch): P;
  protected abstract transmit(item: Prepared<P>): void;
  /** Sends `barrier` at once, bypassing credit and the queue, saying how many queued items it overtook. */
  protected abstract transmitPriority(barrier: CheckpointBarrier, overtaken: number): void;
  abstract batchCapacity(maxRecords: number, maxBytes: number): number;

  get available(): boolean {
    return this.#pending.length === 0;
  }

  /**
   * Credits the consumer returned through memory both ends share since the last call, for a
   * transport that does not announce every credit; 0 for those that call `addCredits`.
   */
  protected collectCredits(): number {
    return 0;
  }

  /**
   * Batches started waiting for credit: a transport that collects credits must now hear of the
   * next one. Returns the credits that came back meanwhile (collected after it asked to hear).
   */
  protected creditsWanted(): number {
    return 0;
  }

  sendBatch(batch: RecordBatch): void {
    const item: Prepared<P> = { kind: 'records', payload: this.prepare(batch) };
    if (this.#pending.length === 0) {
      if (this.#credits <= 0) this.#credits += this.collectCredits();
      if (this.#credits > 0) {
        this.#credits--;
        this.transmit(item);
        return;
      }
    }
    this.#pending.push(item);
    if (this.#pending.length === 1) {
      // Credit returned while the transport raised its flag goes out at once. The writer has
      // not counted this channel as blocked (it looks at `available` after this call), so this
      // must not call onAvailable: a release without its block would leave the task's
      // backpressure count below zero, and the task would never produce again.
      const n = this.creditsWanted();
      if (n > 0) {
        this.#credits += n;
        this.#transmitPending();
      }
    }
  }

  sendEvent(event: ChannelEvent): void {
    if (this.#pending.length === 0) this.transmit(event);
    else this.#pending.push(event);
  }

  sendPriorityBarrier(barrier: CheckpointBarrier): void {
    const overtaken = this.#pending.length;
    this.transmitPriority(barrier, overtaken);
    this.#sendOvertaken(overtaken);
  }

  prioritizeQueuedBarrier(checkpointId: number): void {
    const at = this.#pending.findIndex((item) => isBarrierOf(item, checkpointId));
    if (at < 0) return;
    const barrier = this.#pending.removeAt(at) as CheckpointBarrier;
    this.transmitPriority(barrier, at);
    this.#sendOvertaken(at);
  }

  /**
   * Sends the first `n` waiting items now, credit or not: a priority barrier overtook them, and
   * the consumer stores them with its checkpoint as soon as they arrive (its checkpoint waits for
   * them). Credit may stay below zero until the consumer catches up; at most what was waiting is
   * sent early.
   */
  #sendOvertaken(n: number): void {
    if (n === 0) return;
    for (let i = 0; i < n; i++) {
      const item = this.#pending.shift()!;
      if (item.kind === 'records') this.#credits--;
      this.transmit(item);
    }
    if (this.#pending.length === 0) this.onAvailable?.();
  }

  /** The consumer returned `n` credits. */
  protected addCredits(n: number): void {
    this.#credits += n;
    const wasBlocked = this.#pending.length > 0;
    this.#transmitPending();
    if (wasBlocked && this.#pending.length === 0) this.onAvailable?.();
  }

  /** Sends waiting items in order while credit lasts (events need none). */
  #transmitPending(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending.peek()!;
      if (head.kind === 'records') {
        if (this.#credits <= 0) break;
        this.#credits--;
      }
      this.#pending.shift();
      this.transmit(head);
    }
  }

  abstract close(): void;
}

/** Whether a queued item (an event, or a remote batch's bytes) is an in-band barrier. */
function isBarrier(item: unknown): item is CheckpointBarrier {
  return typeof item === 'object' && item !== null && !(item instanceof Uint8Array) && (item as { kind?: unknown }).kind === 'checkpoint-barrier';
}

/** Whether an in-band barrier carries an aligned-checkpoint timeout (its consumer must hear of it when it is queued). */
export function hasAlignedTimeout(item: unknown): item is CheckpointBarrier {
  return isBarrier(item) && item.options.alignedTimeoutMs !== undefined;
}

/** Whether a queued item is the in-band barrier of `checkpointId`. */
export function isBarrierOf(item: unknown, checkpointId: number): item is CheckpointBarrier {
  return isBarrier(item) && item.checkpointId === checkpointId;
}
